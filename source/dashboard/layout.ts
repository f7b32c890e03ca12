/** How the dashboard's rows are shared out for a terminal size: pure, so that every size can be tested. */

export type Layout = {
	/** Side by side: tasks and events share the lower half. */
	readonly sideBySide: boolean;
	/** Rows between the header and the prompt (help, the task and drone views use them all, title included). */
	readonly bodyRows: number;
	readonly droneRows: number;
	readonly taskRows: number;
	readonly logRows: number;
	readonly taskWidth: number;
	readonly logWidth: number;
	/**
	Data rows of a pane shown alone, full height (`:drones`, `:tasks`, `:events`): the body less its title
	and column header (the event log has no column header).
	*/
	readonly alone: {readonly droneRows: number; readonly taskRows: number; readonly logRows: number};
};

/** Header (2 lines) and prompt (2 lines) take this much. */
const chrome = 4;

export function layout(width: number, height: number): Layout {
	const bodyRows = Math.max(0, height - chrome);
	const alone = {droneRows: Math.max(0, bodyRows - 2), taskRows: Math.max(0, bodyRows - 2), logRows: Math.max(0, bodyRows - 1)};
	if (width >= 140) {
		const avail = Math.max(0, bodyRows - 2);
		const droneRows = Math.floor(avail * 0.45);
		const bottom = avail - droneRows;
		const taskWidth = Math.floor(width * 0.6);
		return {sideBySide: true, bodyRows, droneRows, taskRows: Math.max(0, bottom - 2), logRows: Math.max(0, bottom - 1), taskWidth, logWidth: width - taskWidth - 1, alone};
	}

	const avail = Math.max(0, bodyRows - 5);
	const droneRows = Math.floor(avail * 0.4);
	const taskRows = Math.floor(avail * 0.3);
	return {sideBySide: false, bodyRows, droneRows, taskRows, logRows: avail - droneRows - taskRows, taskWidth: width, logWidth: width, alone};
}
