import {useSyncExternalStore} from 'react';
import type {HiveSnapshot, HiveStore} from './hive-store.js';

/** The store's latest snapshot; re-renders once per flush, never per event. */
export function useHive(store: HiveStore): HiveSnapshot {
	return useSyncExternalStore(store.subscribe, store.getSnapshot);
}
