/*
 * The contract's JSON scanners as one WebAssembly module (text format, assembled at start-up by
 * json-wasm.ts): `run`, the response filter, the same walk as response-filter-bytes.ts
 * and json-bytes.ts; and `scanRequest` (below), the first pass over a request body (safe-json.ts).
 * Both read the bytes copied into linear memory. Memory reads carry no bounds test of their own (the
 * engine keeps them inside the memory), and string content is read sixteen bytes at a time.
 *
 * The walk is one loop in one function, not a recursive descent: a call costs a WebAssembly
 * function about as much as scanning a short token, and the engine does not inline them. Open
 * objects and arrays are kept on a stack in memory (STACK_AT), one frame each.
 *
 * Memory, as the engine lays it out (every address a byte offset, every word little-endian):
 *   0-255      escape kinds: 1 for `"` `\` `/` `b` `f` `n` `r` `t`, 2 for `u`, 0 for the rest (ESCAPES)
 *   256-511    1 for a hex digit, 0 for the rest (HEX_DIGITS)
 *   512-535    what `run` leaves for the engine: the end of its cuts, of its records, 1 when
 *              the response needs the JavaScript scanner (a key spelt with escapes or beyond ASCII
 *              where it matters, a node whose patterns depend on the key, or one with over 32
 *              required properties), and the first breach of the shape: its kind (0 = none, 1 = a
 *              value of a kind its node does not admit, 2 = a required property missing), its
 *              node, and the value's first byte or the required bits missing
 *   768-1023   the kind of value each byte starts, as bits, 0 for none (KIND_OF_BYTE)
 *   1024-...   the stack: a frame of FRAME_BYTES per open object or array, MAX_RESPONSE_DEPTH + 1
 *   then       filter nodes, then the response followed by 64 zero bytes, then cuts and records
 *
 * A node: flags (1 = filters objects, 2 = undeclared keys are matched against patterns, 4 = over
 * 32 required properties), the node of array items (0 = none), what an undeclared key gets
 * (-1 = removed, 0 = kept whole, else a node), the kinds of value it admits, a bit for each of
 * its required properties; then, for a node that filters objects (NODE_BYTES in all), 128 words:
 * by a key's first byte, the first declared name that starts with it (the empty name is filed
 * under `"`). A declared name: its length, its child (0 = kept whole, else a node), the next name
 * with the same first byte (0 = none), its required bit (0 = not required), its bytes.
 *
 * The zero bytes after the response end every scanning loop as no valid token can: a zero byte
 * is never whitespace, a digit, a separator or string content. So the scanner reads one byte
 * past a token without testing where the response ends, as `byteAt` does in JavaScript.
 *
 * `run` scans the response from `start` to `end`. Its states: a value is expected at i (for the
 * node in $vnode, 0 = only checked), a key is expected at i (in the open object), or a value
 * just ended at i (in the open object or array, or the response's last one when none is open).
 */

import { MAX_RESPONSE_DEPTH } from './json-bytes.js';

/** Bytes per node: five words, then, for a node that filters objects, 128 name slots. */
export const NODE_HEADER_BYTES = 20;
export const NODE_BYTES = NODE_HEADER_BYTES + 128 * 4;
/** Bytes of a declared name before its own. */
export const NAME_HEADER_BYTES = 16;
/** Where `run` leaves its results, as words: cuts end, records end, fallback, breach kind, node, detail. */
export const RESULT_AT = 512;
/** The breaches of the shape, at RESULT_AT + 12. */
export const KIND_BREACH = 1;
export const REQUIRED_BREACH = 2;
/** The table of kinds by first byte. */
export const KINDS_AT = 768;
/** The stack of open objects and arrays, one frame each: kind, node, then a filtered object's member. */
const STACK_AT = 1024;
const FRAME_BYTES = 40;
/** Where the first node goes. */
export const NODES_AT = STACK_AT + FRAME_BYTES * (MAX_RESPONSE_DEPTH + 2);
/** The zero bytes after the response: more than a sixteen-byte read from its last byte reaches. */
export const RESPONSE_PADDING = 64;
/** Flags of a node. */
export const FILTERS_OBJECTS = 1;
export const KEY_DEPENDENT = 2;
export const MANY_REQUIRED = 4;
/** What an undeclared key gets in a node's third word, when it is not a node. */
export const REMOVE = -1;
export const KEEP_WHOLE = 0;

/** What is open, in $kind: nothing (the response's top value), an object only checked, an object filtered, an array. */
const TOP = 0;
const OBJECT = 1;
const FILTERED_OBJECT = 2;
const ARRAY = 3;
/** The states of `run`'s loop. */
const VALUE = 0;
const KEY = 1;
const AFTER_VALUE = 2;

/** The frame's locals, in the order a frame holds them ($met: the required bits of the keys met so far). */
const FRAME = ['$kind', '$fnode', '$kept', '$open', '$previousEnd', '$keyStart', '$keyEnd', '$child', '$met'];

const get = (v: string): string => `(local.get ${v})`;
const set = (v: string, value: string): string => `(local.set ${v} ${value})`;
const add = (v: string, n: number | string): string =>
  set(v, `(i32.add ${get(v)} ${typeof n === 'number' ? `(i32.const ${n})` : n})`);
const byte = (at = get('$i'), offset = 0): string => `(i32.load8_u offset=${offset} ${at})`;
const is = (value: string, c: number): string => `(i32.eq ${value} (i32.const ${c}))`;
const isNot = (value: string, c: number): string => `(i32.ne ${value} (i32.const ${c}))`;
const fail = (condition: string): string => `(br_if $fail ${condition})`;
const splat = (c: number): string => `(v128.const i8x16${` ${c}`.repeat(16)})`;
const isDigit = (value: string): string => `(i32.le_u (i32.sub ${value} (i32.const 0x30)) (i32.const 9))`;

let labels = 0;

/** $i past whitespace: tested on the first byte, looped only when it is whitespace. */
function space(): string {
  const n = (labels += 1);
  return `(if (i32.le_u ${byte()} (i32.const 0x20))
    (then (block $spaced${n} (loop $space${n}
      ${set('$s', byte())}
      (br_if $spaced${n} (i32.eqz (i32.and (i32.le_u ${get('$s')} (i32.const 0x20))
        (i32.wrap_i64 (i64.shr_u (i64.const 0x100002600) (i64.extend_i32_u ${get('$s')}))))))
      ${add('$i', 1)}
      (br $space${n})))))`;
}

/**
 * $i from a string's opening quote to after its closing one (section 7), or to `out`. Escapes:
 * `all` checks every escape RFC 8259 allows; `short` takes the two-character ones and leaves
 * `\u` to `out`; `none` leaves any escape to `out`. With `seen`, every byte read is ORed into
 * $seen, whose top bits then tell whether any byte beyond ASCII was among them.
 */
function string(escapes: 'all' | 'short' | 'none' = 'all', out = '$fail', seen = false): string {
  const n = (labels += 1);
  const stop = (condition: string): string => `(br_if ${out} ${condition})`;
  const fourHex = `(i32.and
      (i32.and (i32.load8_u offset=256 ${byte(get('$i'), 2)}) (i32.load8_u offset=256 ${byte(get('$i'), 3)}))
      (i32.and (i32.load8_u offset=256 ${byte(get('$i'), 4)}) (i32.load8_u offset=256 ${byte(get('$i'), 5)})))`;
  // An escape's kind comes from the table at 0: 1 for two characters, 2 for \u and four hex digits.
  const escape =
    escapes === 'none'
      ? `(br ${out})`
      : `${set('$s', `(i32.load8_u ${byte(get('$i'), 1)})`)}
    (if ${is(get('$s'), 1)} (then ${add('$i', 2)} (br $chunk${n})))
    ${
      escapes === 'short'
        ? `(br ${out})`
        : `${stop(`(i32.eqz ${get('$s')})`)}
    ${stop(`(i32.eqz ${fourHex})`)}
    ${add('$i', 6)}
    (br $chunk${n})`
    }`;
  return `${add('$i', 1)}
  (block $closed${n} (loop $chunk${n}
    ${set('$v', '(v128.load align=1 (local.get $i))')}
    ${seen ? set('$seen', `(v128.or ${get('$seen')} ${get('$v')})`) : ''}
    ${set(
      '$s',
      `(i8x16.bitmask (v128.or (v128.or
        (i8x16.eq ${get('$v')} ${splat(0x22)})
        (i8x16.eq ${get('$v')} ${splat(0x5c)}))
        (i8x16.lt_u ${get('$v')} ${splat(0x20)})))`,
    )}
    (if (i32.eqz ${get('$s')}) (then ${add('$i', 16)} (br $chunk${n})))
    ${add('$i', '(i32.ctz (local.get $s))')}
    ${set('$s', byte())}
    (if ${is(get('$s'), 0x22)} (then ${add('$i', 1)} (br $closed${n})))
    ${stop(isNot(get('$s'), 0x5c))}
    ${escape}))`;
}

/** $i past digits. */
function digits(): string {
  const n = (labels += 1);
  return `(block $digits${n} (loop $digit${n}
    (br_if $digits${n} (i32.eqz ${isDigit(byte())}))
    ${add('$i', 1)}
    (br $digit${n})))`;
}

/** $i from a number's first byte past it (section 6), or $fail. */
function number(): string {
  return `(if ${is(byte(), 0x2d)} (then ${add('$i', 1)}))
  ${set('$s', byte())}
  (if ${is(get('$s'), 0x30)}
    (then ${add('$i', 1)})
    (else
      ${fail(`(i32.gt_u (i32.sub ${get('$s')} (i32.const 0x31)) (i32.const 8))`)}
      ${add('$i', 1)}
      ${digits()}))
  (if ${is(byte(), 0x2e)}
    (then
      ${fail(`(i32.eqz ${isDigit(byte(get('$i'), 1))})`)}
      ${add('$i', 2)}
      ${digits()}))
  (if ${is(`(i32.or ${byte()} (i32.const 0x20))`, 0x65)}
    (then
      ${add('$i', 1)}
      (if (i32.or ${is(byte(), 0x2b)} ${is(byte(), 0x2d)}) (then ${add('$i', 1)}))
      ${fail(`(i32.eqz ${isDigit(byte())})`)}
      ${add('$i', 1)}
      ${digits()}))`;
}

/** A literal whose bytes from `offset` are the little-endian `word`, `length` bytes in all. */
const literal = (offset: number, word: number, length: number): string =>
  `${fail(`(i32.ne (i32.load offset=${offset} align=1 ${get('$i')}) (i32.const ${word}))`)}
  ${add('$i', length)}`;

/** Writes the RESPONSE_PADDING zero bytes after the response (at $end), sixteen at a time. */
const zeroPadding = (): string =>
  `;; the zero bytes after the answer
  ${Array.from({ length: RESPONSE_PADDING / 16 }, (_, k) => `(v128.store offset=${16 * k} ${get('$end')} (v128.const i64x2 0 0))`).join('\n  ')}`;

/** The value at $i is true, null or false ($s holds its first byte), else $fail; then $afterValue. */
const literals = (): string =>
  `;; words "true", "null" and "alse" compared at once
  (if ${is(get('$s'), 0x74)} (then ${literal(0, 0x65757274, 4)} (br $afterValue)))
  (if ${is(get('$s'), 0x6e)} (then ${literal(0, 0x6c6c756e, 4)} (br $afterValue)))
  ${fail(isNot(get('$s'), 0x66))}
  ${literal(1, 0x65736c61, 5)}
  (br $afterValue)`;

/** Opens an object or array: the open one's frame is saved, `kind` and `fnode` start the new one. */
const open = (kind: string, fnode: string): string =>
  `${fail(`(i32.ge_u ${get('$depth')} (i32.const ${MAX_RESPONSE_DEPTH}))`)}
  ${add('$depth', 1)}
  ${FRAME.map((v, k) => `(i32.store offset=${4 * k} ${get('$sp')} ${get(v)})`).join(' ')}
  ${add('$sp', FRAME_BYTES)}
  ${set('$fnode', fnode)}
  ${set('$kind', kind)}
  ${set('$kept', '(i32.const 0)')}
  ${set('$open', '(i32.const 0)')}
  ${set('$met', '(i32.const 0)')}
  ${add('$i', 1)}
  ${space()}`;

/** Closes the open object or array: $i past its closing byte, the enclosing one's frame back. */
const close = (): string =>
  `${add('$i', 1)}
  ${add('$depth', -1)}
  ${add('$sp', -FRAME_BYTES)}
  ${FRAME.map((v, k) => set(v, `(i32.load offset=${4 * k} ${get('$sp')})`)).join(' ')}`;

/** Records the first breach of the shape: its kind, node and detail (see the memory layout). */
const breach = (kind: number, node: string, detail: string): string =>
  `(if (i32.eqz ${get('$breach')})
    (then
      ${set('$breach', `(i32.const ${kind})`)}
      ${set('$breachNode', node)}
      ${set('$breachDetail', detail)}))`;

/** The value starting with $s is of a kind $vnode admits, or a breach (nothing to check without a node). */
const checkKind = (): string =>
  `(if ${get('$vnode')}
    (then
      (if (i32.eqz (i32.and
          (i32.load8_u offset=${KINDS_AT} ${get('$s')})
          (i32.load offset=12 ${get('$vnode')})))
        (then ${breach(KIND_BREACH, get('$vnode'), get('$s'))}))))`;

/** A filtered object that closes has met every required key of its node, or a breach. */
const checkRequired = (): string =>
  `(if ${is(get('$kind'), FILTERED_OBJECT)}
    (then
      ${set('$j', `(i32.and (i32.load offset=16 ${get('$fnode')}) (i32.xor ${get('$met')} (i32.const -1)))`)}
      (if ${get('$j')} (then ${breach(REQUIRED_BREACH, get('$fnode'), get('$j'))}))))`;

/** Jumps to a state at the top of the loop. */
const goTo = (state: number): string => `${set('$state', `(i32.const ${state})`)} (br $machine)`;

/**
 * The loop both functions run: three states dispatched at its top (a value expected, a key
 * expected, a value just ended), and what follows a value inside an open object or array: a comma
 * and the next element (after `element`) or key, or the closing byte and `pop`, which closes it.
 * `ended` runs first when a value ends.
 */
function machine(parts: { value: string; key: string; ended: string; element: string; pop: string }): string {
  return `(loop $machine
    (block $afterValue
      (block $key
        (block $value
          (br_table $value $key $afterValue ${get('$state')}))
        ${parts.value})
      ${parts.key})
    ${parts.ended}
    ${space()}
    ${set('$s', byte())}
    (if ${is(get('$s'), 0x2c)}
      (then
        ${add('$i', 1)}
        (if ${is(get('$kind'), ARRAY)} (then ${parts.element} ${goTo(VALUE)}))
        ${goTo(KEY)}))
    ${fail(`(i32.ne ${get('$s')} (select (i32.const 0x5d) (i32.const 0x7d) ${is(get('$kind'), ARRAY)}))`)}
    ${parts.pop}
    ${goTo(AFTER_VALUE)})`;
}

/** The key from $j, $length bytes, is `name` (9 or 11 bytes): two words, the closing quote in the second. */
function keyIs(name: string): string {
  const rest = name.slice(8) + '"';
  return `(i32.and (i32.eq ${get('$length')} (i32.const ${name.length}))
    (i32.and (i64.eq (i64.load align=1 ${get('$j')}) (i64.const ${word(name.slice(0, 8))}))
      (i32.eq (${rest.length === 2 ? 'i32.load16_u' : 'i32.load'} offset=8 align=1 ${get('$j')})
        (i32.const ${word(rest)}))))`;
}

/** Bytes the little-endian word of these (up to eight) characters holds, as a WebAssembly literal. */
function word(text: string): string {
  let value = 0n;
  for (let k = text.length - 1; k >= 0; k -= 1) value = (value << 8n) | BigInt(text.charCodeAt(k));
  return `0x${value.toString(16)}`;
}

/** What `scanRequest` answers: clean and all ASCII, clean, or left to the script scanner. */
export const CLEAN_ASCII = 0;
export const CLEAN = 2;
export const TO_SCRIPT = 1;

/**
 * `scanRequest`: the fast half of the request body check (safe-json.ts). It answers 0 only for
 * a body the script scanner accepts: one JSON text, at most `maxDepth` deep and `maxKeys` keys,
 * keys without escapes, none repeated in its object and none of __proto__, constructor and
 * prototype, strings with two-character escapes only, numbers of at most 15 digits and no
 * exponent: CLEAN_ASCII when every byte is ASCII (strings are the only place another byte can
 * be), else CLEAN. Anything else (a refusal, or what needs decoding or a double to judge) answers
 * TO_SCRIPT: the script scanner decides, and says why. It does not check UTF-8. Frames (8 bytes: kind, first key) go from `frames`,
 * the keys of the open objects (8 bytes: start, length) from `keys`, at most 16 per object.
 */
const SCAN_REQUEST = `
  (func (export "scanRequest")
    (param $start i32) (param $end i32) (param $maxDepth i32) (param $maxKeys i32)
    (param $frames i32) (param $keys i32) (result i32)
    (local $i i32) (local $s i32) (local $v v128) (local $state i32) (local $depth i32)
    (local $sp i32) (local $kind i32) (local $firstKey i32) (local $nextKey i32) (local $count i32)
    (local $j i32) (local $k i32) (local $length i32) (local $m i32) (local $seen v128)
    ${zeroPadding()}
    ${set('$i', get('$start'))}
    ${set('$sp', get('$frames'))}
    ${set('$nextKey', get('$keys'))}
    ${set('$firstKey', get('$keys'))}
    (block $fail
      ${machine({
        value: `
            ;; A value.
            ${space()}
            ${set('$s', byte())}
            (if ${is(get('$s'), 0x22)} (then ${string('short', '$fail', true)} (br $afterValue)))
            (if (i32.or ${is(get('$s'), 0x2d)} ${isDigit(get('$s'))})
              (then
                ;; at most 15 digits and no exponent: exact in a double, within 2^53
                (if ${is(get('$s'), 0x2d)} (then ${add('$i', 1)}))
                ${set('$j', get('$i'))}
                (if ${is(byte(), 0x30)}
                  (then ${add('$i', 1)})
                  (else
                    ${fail(`(i32.gt_u (i32.sub ${byte()} (i32.const 0x31)) (i32.const 8))`)}
                    ${digits()}))
                ${set('$m', `(i32.sub ${get('$i')} ${get('$j')})`)}
                (if ${is(byte(), 0x2e)}
                  (then
                    ${add('$i', 1)}
                    ${set('$j', get('$i'))}
                    ${digits()}
                    ${fail(`(i32.eq ${get('$i')} ${get('$j')})`)}
                    ${add('$m', `(i32.sub ${get('$i')} ${get('$j')})`)}))
                ${fail(is(`(i32.or ${byte()} (i32.const 0x20))`, 0x65))}
                ${fail(`(i32.gt_u ${get('$m')} (i32.const 15))`)}
                (br $afterValue)))
            (if (i32.or ${is(get('$s'), 0x7b)} ${is(get('$s'), 0x5b)})
              (then
                ${fail(`(i32.ge_u ${get('$depth')} ${get('$maxDepth')})`)}
                ;; what closes it: } is { + 2, ] is [ + 2
                ${set('$m', `(i32.add ${get('$s')} (i32.const 2))`)}
                ${add('$i', 1)}
                ${space()}
                (if (i32.eq ${byte()} ${get('$m')}) (then ${add('$i', 1)} (br $afterValue)))
                ${add('$depth', 1)}
                (i32.store ${get('$sp')} ${get('$kind')})
                (i32.store offset=4 ${get('$sp')} ${get('$firstKey')})
                ${add('$sp', 8)}
                ${set('$kind', `(select (i32.const ${OBJECT}) (i32.const ${ARRAY}) ${is(get('$m'), 0x7d)})`)}
                ${set('$firstKey', get('$nextKey'))}
                (if ${is(get('$kind'), ARRAY)} (then ${goTo(VALUE)}))
                (br $key)))
            ${literals()}`,
        key: `
          ;; A key: no escapes, not a guarded name, not one of the object's earlier keys.
          ${space()}
          ${fail(isNot(byte(), 0x22))}
          ${set('$j', `(i32.add ${get('$i')} (i32.const 1))`)}
          ${string('none', '$fail', true)}
          ${set('$length', `(i32.sub (i32.sub ${get('$i')} ${get('$j')}) (i32.const 1))`)}
          ${add('$count', 1)}
          ${fail(`(i32.gt_u ${get('$count')} ${get('$maxKeys')})`)}
          ${fail(keyIs('__proto__'))}
          ${fail(keyIs('prototype'))}
          ${fail(keyIs('constructor'))}
          ${fail(`(i32.ge_u (i32.sub ${get('$nextKey')} ${get('$firstKey')}) (i32.const ${16 * 8}))`)}
          (block $unique
            ${set('$k', get('$firstKey'))}
            (loop $earlier
              (br_if $unique (i32.eq ${get('$k')} ${get('$nextKey')}))
              (if (i32.eq (i32.load offset=4 ${get('$k')}) ${get('$length')})
                (then
                  ${set('$m', '(i32.const 0)')}
                  (block $differs
                    (loop $bytes
                      (br_if $fail (i32.eq ${get('$m')} ${get('$length')}))
                      (br_if $differs (i32.ne
                        ${byte(`(i32.add (i32.load ${get('$k')}) ${get('$m')})`)}
                        ${byte(`(i32.add ${get('$j')} ${get('$m')})`)}))
                      ${add('$m', 1)}
                      (br $bytes)))))
              ${add('$k', 8)}
              (br $earlier)))
          (i32.store ${get('$nextKey')} ${get('$j')})
          (i32.store offset=4 ${get('$nextKey')} ${get('$length')})
          ${add('$nextKey', 8)}
          ${space()}
          ${fail(isNot(byte(), 0x3a))}
          ${add('$i', 1)}
          ${goTo(VALUE)}`,
        ended: `
        ;; A value ended at $i.
        (if ${is(get('$depth'), 0)}
          (then
            ${space()}
            ${fail(`(i32.ne ${get('$i')} ${get('$end')})`)}
            (return (select (i32.const ${CLEAN_ASCII}) (i32.const ${CLEAN})
              (i32.eqz (i8x16.bitmask ${get('$seen')}))))))`,
        element: '',
        pop: `
        ${add('$i', 1)}
        ${add('$depth', -1)}
        ${set('$nextKey', get('$firstKey'))}
        ${add('$sp', -8)}
        ${set('$kind', `(i32.load ${get('$sp')})`)}
        ${set('$firstKey', `(i32.load offset=4 ${get('$sp')})`)}`,
      })})
    (i32.const ${TO_SCRIPT}))`;

export const JSON_WAT = `
(module
  (memory (export "memory") 1)

  ;; The answer from start to end (zero bytes after it): filtered by node (0 = only checked),
  ;; cuts written from cuts, at most (recordsEnd - records) / 12 removals recorded from records.
  ;; Returns 1 when it is exactly one JSON text, else 0; leaves the ends of the cuts and records,
  ;; the fallback flag (1: the answer needs the JavaScript scanner) and the first breach of the
  ;; shape at RESULT_AT.
  (func (export "run")
    (param $node i32) (param $start i32) (param $end i32)
    (param $cuts i32) (param $records i32) (param $recordsEnd i32) (result i32)
    (local $i i32) (local $s i32) (local $v v128) (local $state i32) (local $vnode i32)
    (local $depth i32) (local $sp i32) (local $fallback i32) (local $whole i32)
    (local $kind i32) (local $fnode i32) (local $kept i32) (local $open i32) (local $previousEnd i32)
    (local $keyStart i32) (local $keyEnd i32) (local $child i32)
    (local $name i32) (local $length i32) (local $j i32) (local $met i32)
    (local $breach i32) (local $breachNode i32) (local $breachDetail i32)
    ${zeroPadding()}
    ${set('$i', get('$start'))}
    ${set('$vnode', get('$node'))}
    ${set('$sp', `(i32.const ${STACK_AT})`)}
    (block $fail
      ${machine({
        value: `
            ;; A value, for the node in $vnode (0: only checked).
            ${space()}
            ${set('$s', byte())}
            ${checkKind()}
            (if ${is(get('$s'), 0x22)} (then ${string()} (br $afterValue)))
            (if (i32.or ${is(get('$s'), 0x2d)} ${isDigit(get('$s'))}) (then ${number()} (br $afterValue)))
            (if ${is(get('$s'), 0x7b)}
              (then
                (if ${get('$vnode')}
                  (then (if (i32.and (i32.load ${get('$vnode')}) (i32.const ${MANY_REQUIRED}))
                    (then ${set('$fallback', '(i32.const 1)')} (br $fail)))))
                ${open(
                  `(select (i32.const ${FILTERED_OBJECT}) (i32.const ${OBJECT})
                    (i32.and (i32.ne ${get('$vnode')} (i32.const 0))
                      (i32.and (i32.load ${get('$vnode')}) (i32.const ${FILTERS_OBJECTS}))))`,
                  get('$vnode'),
                )}
                (if ${is(byte(), 0x7d)} (then ${checkRequired()} ${close()} (br $afterValue)))
                (br $key)))
            (if ${is(get('$s'), 0x5b)}
              (then
                ${open(
                  `(i32.const ${ARRAY})`,
                  `(if (result i32) ${get('$vnode')}
                    (then (i32.load offset=4 ${get('$vnode')})) (else (i32.const 0)))`,
                )}
                (if ${is(byte(), 0x5d)} (then ${close()} (br $afterValue)))
                ${set('$vnode', get('$fnode'))}
                ${goTo(VALUE)}))
            ${literals()}`,
        key: `
          ;; A key, in the open object.
          ${space()}
          ${fail(isNot(byte(), 0x22))}
          ${set('$keyStart', get('$i'))}
          (if ${is(get('$kind'), FILTERED_OBJECT)}
            (then
              ;; a declared name, by the key's first byte: the same bytes, then the closing quote
              ${set('$child', '(i32.const -2)')}
              ${set('$s', byte(get('$i'), 1))}
              (if (i32.lt_u ${get('$s')} (i32.const 0x80))
                (then
                  ${set('$name', `(i32.load offset=${NODE_HEADER_BYTES} (i32.add ${get('$fnode')} (i32.shl ${get('$s')} (i32.const 2))))`)}
                  (block $matched (loop $names
                    (br_if $matched (i32.eqz ${get('$name')}))
                    ${set('$length', `(i32.load ${get('$name')})`)}
                    (block $differs
                      (br_if $differs (i32.ge_u (i32.add ${get('$i')} (i32.add ${get('$length')} (i32.const 1))) ${get('$end')}))
                      (br_if $differs ${isNot(byte(`(i32.add ${get('$i')} ${get('$length')})`, 1), 0x22)})
                      ${set('$j', '(i32.const 1)')}
                      (block $same (loop $bytes
                        (br_if $same (i32.ge_u ${get('$j')} ${get('$length')}))
                        (br_if $differs (i32.ne
                          ${byte(`(i32.add ${get('$i')} ${get('$j')})`, 1)}
                          ${byte(`(i32.add ${get('$name')} ${get('$j')})`, NAME_HEADER_BYTES)}))
                        ${add('$j', 1)}
                        (br $bytes)))
                      ${set('$child', `(i32.load offset=4 ${get('$name')})`)}
                      ${set('$met', `(i32.or ${get('$met')} (i32.load offset=12 ${get('$name')}))`)}
                      ${set('$keyEnd', `(i32.add ${get('$i')} (i32.add ${get('$length')} (i32.const 2)))`)}
                      (br $matched))
                    ${set('$name', `(i32.load offset=8 ${get('$name')})`)}
                    (br $names)))))
              (if ${is(get('$child'), -2)}
                (then
                  ;; any other key: read, then decided here when it is plain ASCII and the node
                  ;; has no patterns, else by the JavaScript scanner
                  ${string()}
                  ${set('$keyEnd', get('$i'))}
                  ${set('$j', `(i32.add ${get('$keyStart')} (i32.const 1))`)}
                  (block $plain (loop $bytes
                    (br_if $plain (i32.ge_u ${get('$j')} (i32.sub ${get('$keyEnd')} (i32.const 1))))
                    ${set('$s', byte(get('$j')))}
                    (if (i32.or (i32.ge_u ${get('$s')} (i32.const 0x80)) ${is(get('$s'), 0x5c)})
                      (then ${set('$fallback', '(i32.const 1)')} (br $fail)))
                    ${add('$j', 1)}
                    (br $bytes)))
                  (if (i32.and (i32.load ${get('$fnode')}) (i32.const ${KEY_DEPENDENT}))
                    (then ${set('$fallback', '(i32.const 1)')} (br $fail)))
                  ${set('$child', `(i32.load offset=8 ${get('$fnode')})`)}))
              ;; a removal before any kept member runs up to this key
              (if (i32.and ${get('$open')} (i32.eqz ${get('$kept')}))
                (then (i32.store (i32.sub (local.get $cuts) (i32.const 4)) ${get('$keyStart')})))
              ${set('$i', get('$keyEnd'))}
              ${set('$vnode', `(select ${get('$child')} (i32.const 0) (i32.gt_s ${get('$child')} (i32.const 0)))`)})
            (else
              ${string()}
              ${set('$vnode', '(i32.const 0)')}))
          ${space()}
          ${fail(isNot(byte(), 0x3a))}
          ${add('$i', 1)}
          ${goTo(VALUE)}`,
        ended: `
        ;; A value ended at $i.
        (if ${is(get('$kind'), TOP)} (then ${set('$whole', '(i32.const 1)')} (br $fail)))
        (if ${is(get('$kind'), FILTERED_OBJECT)}
          (then
            (if ${isNot(get('$child'), REMOVE)}
              (then
                ${set('$kept', '(i32.const 1)')}
                ${set('$open', '(i32.const 0)')})
              (else
                ;; after a kept member, the cut runs from its end; before any, from this key
                (if ${get('$open')}
                  (then (i32.store (i32.sub ${get('$cuts')} (i32.const 4)) ${get('$i')}))
                  (else
                    (i32.store ${get('$cuts')} (select ${get('$previousEnd')} ${get('$keyStart')} ${get('$kept')}))
                    (i32.store offset=4 ${get('$cuts')} ${get('$i')})
                    ${add('$cuts', 8)}))
                ${set('$open', '(i32.const 1)')}
                (if (i32.lt_u ${get('$records')} ${get('$recordsEnd')})
                  (then
                    (i32.store ${get('$records')} ${get('$fnode')})
                    (i32.store offset=4 ${get('$records')} ${get('$keyStart')})
                    (i32.store offset=8 ${get('$records')} ${get('$keyEnd')})
                    ${add('$records', 12)}))))
            ${set('$previousEnd', get('$i'))}))`,
        element: set('$vnode', get('$fnode')),
        pop: `${checkRequired()} ${close()}`,
      })})
    ;; Here when the top value ended ($whole), or on anything else.
    (if ${get('$whole')} (then ${space()}))
    (i32.store (i32.const ${RESULT_AT}) ${get('$cuts')})
    (i32.store offset=4 (i32.const ${RESULT_AT}) ${get('$records')})
    (i32.store offset=8 (i32.const ${RESULT_AT}) ${get('$fallback')})
    (i32.store offset=12 (i32.const ${RESULT_AT}) ${get('$breach')})
    (i32.store offset=16 (i32.const ${RESULT_AT}) ${get('$breachNode')})
    (i32.store offset=20 (i32.const ${RESULT_AT}) ${get('$breachDetail')})
    (i32.and ${get('$whole')} (i32.eq ${get('$i')} ${get('$end')})))
${SCAN_REQUEST}
)`;
