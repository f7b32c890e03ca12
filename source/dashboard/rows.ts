/** STUB (components branch): only the shared type; the lead's rows.ts replaces this file at merge. */
export type Sort = {readonly column: string; readonly descending: boolean};
