import { GatehouseError } from '../errors/gatehouse-error.js';
import type { CompiledApi, Operation } from './operation.js';
import {
  matchSegmentPattern,
  parsePathTemplate,
  type SegmentPattern,
  type TemplateSegment,
} from './path-template.js';
import { checkRequestTarget, DEFAULT_MAX_TARGET_BYTES } from './request-target.js';
import { assertNoTemplateConflicts, type RouteEntry } from './template-conflicts.js';

export interface RouteMatch {
  readonly operation: Operation;
  /** Path parameters by name, percent-decoded (RFC 3986 §2.1). */
  readonly params: Readonly<Record<string, string>>;
  /** The raw path as received and checked, without the query. */
  readonly path: string;
  /** The raw query without "?", "" when there is none. */
  readonly query: string;
}

export interface RouteTable {
  /** Throws GatehouseError: 400/414 for a bad target, 404 for no path, 405 (with Allow) for no method. */
  match(method: string, target: string): RouteMatch;
}

export interface RouteTableOptions {
  /** Longest request target accepted (414 beyond); the config's `limits.maxPathBytes`. */
  readonly maxTargetBytes?: number;
}

/** The operations of one template, keyed by method. */
interface Endpoint {
  readonly template: string;
  readonly byMethod: ReadonlyMap<string, Operation>;
  readonly paramNames: readonly string[];
  /** RFC 9110 §10.2.1, sent with every 405 (§15.5.6 requires it). */
  readonly allow: string;
}

/**
 * One node per segment position. Precedence (OpenAPI, Paths Object: concrete paths match before
 * templated ones): a literal segment, then partial templates, most literal first, then a whole-
 * segment parameter. When a branch cannot match the rest of the path, the next one is tried.
 */
interface RouteNode {
  readonly literals: Map<string, RouteNode>;
  readonly patterns: { readonly pattern: SegmentPattern; readonly shape: string; readonly node: RouteNode }[];
  param: RouteNode | null;
  endpoint: Endpoint | null;
}

export function buildRouteTable(apis: readonly CompiledApi[], options: RouteTableOptions = {}): RouteTable {
  const maxTargetBytes = options.maxTargetBytes ?? DEFAULT_MAX_TARGET_BYTES;
  const entries: RouteEntry[] = apis.flatMap((api) =>
    api.operations.map((operation) => ({
      operation,
      parsed: parsePathTemplate(operation.template),
      file: api.file,
    })),
  );
  assertNoTemplateConflicts(entries);
  const root = buildTrie(entries);
  return {
    match: function matchRoute(method: string, target: string): RouteMatch {
      return matchTarget(root, maxTargetBytes, method, target);
    },
  };
}

function newNode(): RouteNode {
  return { literals: new Map(), patterns: [], param: null, endpoint: null };
}

function buildTrie(entries: readonly RouteEntry[]): RouteNode {
  const root = newNode();
  const byMethodOf = new Map<RouteNode, Map<string, Operation>>();
  for (const { operation, parsed } of entries) {
    let node = root;
    for (const segment of parsed.segments) node = childFor(node, segment);
    const byMethod = byMethodOf.get(node) ?? new Map<string, Operation>();
    byMethod.set(operation.method, operation);
    byMethodOf.set(node, byMethod);
    node.endpoint = {
      template: parsed.template,
      byMethod,
      paramNames: parsed.paramNames,
      allow: [...byMethod.keys()].sort().join(', '),
    };
  }
  return root;
}

function childFor(node: RouteNode, segment: TemplateSegment): RouteNode {
  if (segment.kind === 'literal') return getOrAdd(node.literals, segment.text);
  if (segment.kind === 'param') return (node.param ??= newNode());
  const existing = node.patterns.find((child) => child.shape === segment.shape);
  if (existing !== undefined) return existing.node;
  const child = { pattern: segment.pattern, shape: segment.shape, node: newNode() };
  node.patterns.push(child);
  // Stable sort: among equally literal patterns, the first declared is tried first.
  node.patterns.sort((a, b) => b.pattern.literalLength - a.pattern.literalLength);
  return child.node;
}

function getOrAdd(children: Map<string, RouteNode>, text: string): RouteNode {
  const existing = children.get(text);
  if (existing !== undefined) return existing;
  const child = newNode();
  children.set(text, child);
  return child;
}

function matchTarget(root: RouteNode, maxTargetBytes: number, method: string, target: string): RouteMatch {
  const pathEnd = checkRequestTarget(target, maxTargetBytes);
  const path = pathEnd === target.length ? target : target.slice(0, pathEnd);
  const captures: string[] = [];
  const endpoint = findEndpoint(root, path, 1, captures);
  if (endpoint === null) throw new GatehouseError('GH_ROUTE_NOT_FOUND', 'no declared path matches');
  const operation = endpoint.byMethod.get(method);
  if (operation === undefined) {
    const detail = `${method} is not declared for ${endpoint.template}`;
    throw new GatehouseError('GH_ROUTE_METHOD_NOT_ALLOWED', detail, { Allow: endpoint.allow });
  }
  const query = pathEnd === target.length ? '' : target.slice(pathEnd + 1);
  return { operation, params: decodeParams(endpoint.paramNames, captures), path, query };
}

/** Depth-first over the trie from the segment starting at `start`; `captures` holds raw values. */
function findEndpoint(node: RouteNode, path: string, start: number, captures: string[]): Endpoint | null {
  const slash = path.indexOf('/', start);
  const end = slash === -1 ? path.length : slash;
  const segment = path.slice(start, end);
  const literal = node.literals.get(segment);
  if (literal !== undefined) {
    const found = continueFrom(literal, path, end, captures);
    if (found !== null) return found;
  }
  for (const { pattern, node: child } of node.patterns) {
    const mark = captures.length;
    if (!matchSegmentPattern(pattern, segment, captures)) continue;
    const found = continueFrom(child, path, end, captures);
    if (found !== null) return found;
    captures.length = mark;
  }
  if (node.param === null || segment === '') return null;
  captures.push(segment);
  const found = continueFrom(node.param, path, end, captures);
  if (found === null) captures.pop();
  return found;
}

function continueFrom(node: RouteNode, path: string, end: number, captures: string[]): Endpoint | null {
  return end === path.length ? node.endpoint : findEndpoint(node, path, end + 1, captures);
}

function decodeParams(names: readonly string[], captures: readonly string[]): Record<string, string> {
  // No prototype: a parameter named "__proto__" is a plain key, not a prototype switch.
  const params = Object.create(null) as Record<string, string>;
  for (let i = 0; i < names.length; i++) params[names[i]!] = decodeParam(captures[i]!);
  return params;
}

function decodeParam(raw: string): string {
  if (!raw.includes('%')) return raw;
  try {
    return decodeURIComponent(raw);
  } catch {
    // The escapes are well-formed (checked before), so only their bytes can be wrong: not UTF-8.
    throw new GatehouseError('GH_ROUTE_BAD_PATH', 'path parameter is not valid UTF-8 once decoded');
  }
}
