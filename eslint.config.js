// The linter `npm test` runs: typescript-eslint's type-aware rules, so that a promise nobody awaits is
// found before it becomes an unhandled rejection or a lost write.
import tseslint from 'typescript-eslint';

export default tseslint.config(
	{ignores: ['dist/', 'node_modules/', 'bench/results/', 'eslint.config.js']},
	...tseslint.configs.recommendedTypeChecked,
	{
		languageOptions: {
			parserOptions: {projectService: true, tsconfigRootDir: import.meta.dirname},
		},
		linterOptions: {reportUnusedDisableDirectives: 'error'},
		rules: {
			'no-await-in-loop': 'error',
			// A `let` that a closure reads before its one assignment (a larve's stop, made after its server) is fine.
			'prefer-const': ['error', {ignoreReadBeforeAssign: true}],
			'@typescript-eslint/no-floating-promises': ['error', {allowForKnownSafeCalls: [{from: 'package', package: 'node:test', name: ['test', 'describe', 'it', 'suite']}]}],
			'@typescript-eslint/switch-exhaustiveness-check': ['error', {considerDefaultExhaustiveForUnions: true}],
			'@typescript-eslint/no-unused-vars': ['error', {varsIgnorePattern: '^_', argsIgnorePattern: '^_', ignoreRestSiblings: true}],
			// An async function that does not await still turns a throw into a rejection: kept on purpose.
			'@typescript-eslint/require-await': 'off',
			'@typescript-eslint/consistent-type-imports': 'error',
		},
	},
	{
		// Tests and the bench read the API's JSON answers as they come (`any`): what they check is asserted.
		files: ['test/**', 'bench/**'],
		rules: {
			'@typescript-eslint/no-unsafe-member-access': 'off',
			'@typescript-eslint/no-unsafe-argument': 'off',
			'@typescript-eslint/no-unsafe-assignment': 'off',
			'@typescript-eslint/no-unsafe-call': 'off',
			'@typescript-eslint/no-unsafe-return': 'off',
			'@typescript-eslint/no-explicit-any': 'off',
		},
	},
);
