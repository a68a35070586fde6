/** Schema evolution (SPEC §9): the steps between snapshots, the conversion table, and the copy of an item along them. */
export { convertible, convertValue, type Converted } from './convert.ts';
export { backwardOps, evolutionProblems, renamesBetween, stepBetween, type Step, type StepOp } from './steps.ts';
export { copyItem, type CopyResult } from './copy.ts';
