// Lint rules the suite enforces (test/lint.test.ts): every promise is awaited or handled, and no error
// is swallowed in shipped code: no empty catch block, and no rejection or 'error' handler that drops the error
// (an empty body, or one that only yields undefined or null). A handler that recovers with a value
// of its own (`.catch(() => false)`) states what the failure means and is allowed.
import tseslint from 'typescript-eslint';

const droppingHandlers = [
  'ArrowFunctionExpression[body.type="BlockStatement"][body.body.length=0]',
  'FunctionExpression[body.body.length=0]',
  'ArrowFunctionExpression[body.type="Identifier"][body.name="undefined"]',
  'ArrowFunctionExpression[body.type="Literal"][body.raw="null"]',
  'ArrowFunctionExpression[body.type="UnaryExpression"][body.operator="void"][body.argument.type="Literal"]',
];

const noSwallowedErrors = {
  'no-empty': ['error', { allowEmptyCatch: false }],
  'no-restricted-syntax': [
    'error',
    ...droppingHandlers.flatMap((handler) => [
      {
        selector: `CallExpression[callee.property.name="catch"] > ${handler}`,
        message: 'A rejection handler must handle, log or rethrow the error, or recover with a value.',
      },
      {
        selector: `CallExpression[callee.property.name=/^(on|once)$/][arguments.0.value="error"] > ${handler}`,
        message: "An 'error' listener must handle or log the error.",
      },
    ]),
  ],
};

export default tseslint.config(
  {
    ignores: [
      '**/dist/**',
      '**/node_modules/**',
      '**/bundle/**',
      'artifacts/**',
      'conformance/**',
      '.theseus/**',
      '**/*.d.ts',
      '**/*.d.mts',
    ],
  },
  { linterOptions: { reportUnusedDisableDirectives: 'error' } },
  {
    files: ['**/*.js', '**/*.mjs', '**/*.cjs'],
    rules: noSwallowedErrors,
  },
  {
    files: ['**/*.ts', '**/*.mts'],
    languageOptions: {
      parser: tseslint.parser,
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    plugins: { '@typescript-eslint': tseslint.plugin },
    rules: {
      ...noSwallowedErrors,
      '@typescript-eslint/no-floating-promises': [
        'error',
        {
          allowForKnownSafeCalls: [
            { from: 'package', package: 'node:test', name: ['test', 'it', 'describe', 'suite'] },
          ],
        },
      ],
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: false }],
    },
  },
  {
    // Tests, benchmarks and test support clean up on a best-effort basis: what they start may already be gone.
    files: ['**/*.test.ts', 'test/**', '**/bench/**', '**/testing/**', '**/test-support/**', '**/*test-support.ts'],
    rules: { 'no-restricted-syntax': 'off' },
  },
);
