import {useEffect, useMemo, useState, useSyncExternalStore} from 'react';
import type {QueenClient, TaskView} from '../client/queen-client.js';
import {errorMessage} from './format.js';
import {withRecord} from './hive-store.js';
import {TaskOutput, type TaskOutputSnapshot} from './task-output.js';

export type TaskPageClient = Pick<QueenClient, 'task' | 'openTaskLogs'>;

export type TaskPage = {
	/** The task as the list knows it now, with what only its record has (the whole text or command). */
	readonly task: TaskView | undefined;
	readonly output: TaskOutputSnapshot | undefined;
	/** Still loading, or why the record could not be read. */
	readonly note: string | undefined;
};

const noSubscription = () => () => undefined;
const nothing = () => undefined;

/**
One task's page: its record (`GET /tasks/:id`, read again when its state changes in the list) and its
output, followed live while it runs (`GET /tasks/:id/logs?follow=true`). `id` may be the start of an id
(`:task 3f2a`): the queen resolves it, and the record says the whole id. Both are read again at each
`attachment` (the dashboard reconnected, or the hive it shows was replaced): a page open while the queen
was away recovers by itself.
*/
export function useTaskPage(client: TaskPageClient, id: string | undefined, tasks: readonly TaskView[], attachment: number): TaskPage {
	const known = id === undefined ? undefined : tasks.find(task => task.id === id) ?? (id.length < 36 ? tasks.find(task => task.id.startsWith(id)) : undefined);
	const [record, setRecord] = useState<{id: string; task?: TaskView; note?: string}>();
	const [output, setOutput] = useState<TaskOutput>();
	const state = known?.state;

	useEffect(() => {
		if (id === undefined) {
			setRecord(undefined);
			return;
		}

		let live = true;
		setRecord(current => (current?.id === id ? current : {id, note: 'loading…'}));
		client.task(id).then(answer => {
			if (live) {
				setRecord({id, task: answer.task});
			}
		}, (error: unknown) => {
			if (live) {
				setRecord({id, note: errorMessage(error)});
			}
		});
		return () => {
			live = false;
		};
	}, [client, id, state, attachment]);

	useEffect(() => {
		if (id === undefined) {
			setOutput(undefined);
			return;
		}

		// Followed whatever its state: an ended task's output comes at once, with how it ended.
		const opened = new TaskOutput(client, id, {follow: true});
		setOutput(opened);
		return () => {
			opened.close();
		};
	}, [client, id, attachment]);

	const snapshot = useSyncExternalStore(output?.subscribe ?? noSubscription, output?.getSnapshot ?? nothing);
	const loaded = record?.id === id ? record : undefined;
	const recorded = loaded?.task;
	const task = useMemo(() => (known && recorded ? withRecord(known, recorded) : known ?? recorded), [known, recorded]);
	return {task, output: snapshot, note: loaded?.note};
}
