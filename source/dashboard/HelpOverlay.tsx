import {Box, Text} from 'ink';
import {fit} from './format.js';

type Props = {
	readonly width: number;
	readonly rows: number;
};

export const keys: ReadonlyArray<readonly [string, string]> = [
	['Enter', 'prompt: submit the task (POST /submit_task); tasks: show the selected task'],
	['↑ ↓', 'prompt: earlier tasks; tables: move'],
	['PgUp PgDn', 'tables: a page up or down'],
	['Home End', 'tables: first or last row'],
	['Tab', 'move between the prompt, the drones and the tasks'],
	['/', 'filter the drones by name, address or state (on the prompt: when it is empty)'],
	['Esc', 'close what is open: help, details, filter; then back to the prompt'],
	['?', 'this help (on the prompt: when it is empty)'],
	['Ctrl-C', 'quit (a queen started here stops, with its local drones)'],
];

/** The keys, k9s style. */
export function HelpOverlay({width, rows}: Props) {
	return (
		<Box flexDirection="column" height={rows} width={width}>
			<Text wrap="truncate" bold inverse>{fit('Keys  (Esc or ? to close)', width)}</Text>
			{keys.slice(0, Math.max(0, rows - 1)).map(([key, meaning]) => (
				<Text key={key} wrap="truncate"><Text color="cyan">{fit(key, 11)}</Text>{fit(meaning, Math.max(0, width - 11))}</Text>
			))}
		</Box>
	);
}
