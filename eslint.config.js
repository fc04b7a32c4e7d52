import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', '.gatehouse/**', 'coverage/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts', '**/*.tsx'],
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-console': ['error', { allow: ['error'] }],
    },
  },
  {
    files: ['bench/**/*.mjs', 'src/cli.ts', 'src/cli/**/*.ts', 'src/demo/**/*.ts'],
    rules: { 'no-console': 'off' },
    languageOptions: {
      globals: { process: 'readonly', console: 'readonly', URL: 'readonly', setTimeout: 'readonly' },
    },
  },
  // The dashboard runs in the browser: its globals, and the admin API only through src/api.ts.
  {
    files: ['dashboard/src/**/*.ts', 'dashboard/src/**/*.tsx'],
    languageOptions: {
      globals: {
        window: 'readonly',
        document: 'readonly',
        fetch: 'readonly',
        ResizeObserver: 'readonly',
        HTMLInputElement: 'readonly',
        HTMLDivElement: 'readonly',
        Event: 'readonly',
        RequestInit: 'readonly',
        AbortSignal: 'readonly',
      },
    },
    rules: {
      'no-restricted-globals': ['error', { name: 'fetch', message: 'call the admin API through src/api.ts' }],
    },
  },
  {
    files: ['dashboard/src/api.ts'],
    rules: { 'no-restricted-globals': 'off' },
  },
  {
    files: ['dashboard/build.mjs'],
    languageOptions: { globals: { URL: 'readonly' } },
  },
  // The bank: SQL is whole literals with bound parameters, never text glued from values
  // (src/bank/sql-lint.test.ts proves these fire).
  {
    files: ['src/bank/**/*.ts'],
    rules: { 'no-restricted-syntax': ['error', ...bankSqlRules()] },
  },
);

function bankSqlRules() {
  const sqlCall = 'CallExpression[callee.property.name=/^(prepare|query|exec|pragma)$/]';
  const keyword = '/\\b(SELECT|INSERT|UPDATE|DELETE|WHERE|VALUES|CREATE|DROP|ALTER|FROM|SET)\\b/';
  const message = 'bank: SQL must be one string literal with placeholders ($1 / ?), never built from values';
  return [
    `${sqlCall} > TemplateLiteral[expressions.length>0]`,
    `${sqlCall} > BinaryExpression`,
    `${sqlCall} > CallExpression`,
    `${sqlCall} > ObjectExpression > Property[key.name='text'] > :not(Literal, TemplateLiteral[expressions.length=0]).value`,
    `TemplateLiteral[expressions.length>0] > TemplateElement[value.raw=${keyword}]`,
    `BinaryExpression[operator='+'] > Literal[value=${keyword}]`,
    `AssignmentExpression[operator='+='] > Literal[value=${keyword}]`,
  ].map((selector) => ({ selector, message }));
}
