import { describe, expect, it } from 'vitest';
import { checkParserBinding, HTTPParser, PARSER_METHODS } from './parser.js';

describe("Node's HTTP parser binding", () => {
  it('parses the canned request and answer as expected, and refuses the canned smuggling attempt', () => {
    expect(() => checkParserBinding()).not.toThrow();
  });

  it('is reached in one module, with the request methods named by index', () => {
    expect(typeof HTTPParser).toBe('function');
    expect(PARSER_METHODS).toContain('GET');
    expect(PARSER_METHODS).toContain('DELETE');
  });
});
