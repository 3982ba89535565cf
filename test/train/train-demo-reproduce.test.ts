// The model card's "Reproduce" commands (scripts/train_demo.ts reproduceCommands): a run with restarts is reproduced
// segment by segment where a restart changed the schedule (--steps) or the optimiser state (a warm restart).
import { describe, expect, it } from 'vitest';
import { DEFAULTS, reproduceCommands } from '../../scripts/train_demo.ts';

describe('train_demo reproduce commands', () => {
  const T = 'npx tsx scripts/train_demo.ts';
  it('one command for an uninterrupted run or exact resumes with the same --steps', () => {
    expect(reproduceCommands({ ...DEFAULTS }, [])).toEqual([T]);
    expect(reproduceCommands({ ...DEFAULTS, steps: 500, lr: 1e-3 }, [{ step: 250, exact: true }])).toEqual([`${T} --steps 500 --lr 0.001`]);
  });

  it('extensions and warm restarts each start a segment; the --steps of each segment in order', () => {
    const cmds = reproduceCommands({ ...DEFAULTS, steps: 28000 }, [
      { step: 1500, exact: true, stepsBefore: 8000 },
      { step: 10000, exact: false, stepsBefore: 10000 },
      { step: 10500, exact: true },
    ]);
    expect(cmds).toEqual([
      `${T} --steps 8000   # stop it after step 1500 (a checkpoint every 250 steps)`,
      `${T} --resume   # stop it after step 10000`,
      'rm public/model/checkpoint.bin   # step 10000 was a warm restart (fresh AdamW moments)',
      `${T} --steps 28000 --resume`,
    ]);
  });
});
