import { defineQuery } from '@temporalio/workflow';

/** Every dibctl workflow answers this with the stage it is in, for `dibctl status`. */
export const stageQuery = defineQuery<string>('stage');
