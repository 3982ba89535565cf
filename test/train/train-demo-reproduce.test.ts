// The model card's "Reproduce" commands (scripts/train_demo.ts reproduceCommands): a run with restarts is reproduced
// segment by segment where a restart changed the schedule (--steps, --lr, ...) or the optimiser state (a warm restart).
import { describe, expect, it } from 'vitest';
import { DEFAULTS, reproduceCommands } from '../../scripts/train_demo.ts';

describe('train_demo reproduce commands', () => {
  const T = 'npx tsx scripts/train_demo.ts';
  it('one command for an uninterrupted run or exact resumes with the same --steps', () => {
    expect(reproduceCommands({ ...DEFAULTS }, [])).toEqual([T]);
    expect(reproduceCommands({ ...DEFAULTS, steps: 500, lr: 1e-3 }, [{ step: 250, exact: true }])).toEqual([`${T} --steps 500 --lr 0.001`]);
  });

  it('extensions and warm restarts each start a segment; the --steps of each segment in order', () => {
    const cmds = reproduceCommands({ ...DEFAULTS, steps: 24000 }, [
      { step: 1500, exact: true, stepsBefore: 8000 },
      { step: 10000, exact: false, stepsBefore: 10000 },
      { step: 10500, exact: true },
      { step: 13250, exact: true, stepsBefore: 28000 },
    ]);
    expect(cmds).toEqual([
      `${T} --steps 8000   # stop it after step 1500 (a checkpoint every 250 steps)`,
      `${T} --resume`,
      'rm public/model/checkpoint.bin   # step 10000 was a warm restart (fresh AdamW moments)',
      `${T} --steps 28000 --resume   # stop it after step 13250`,
      `${T} --steps 24000 --resume`,
    ]);
  });

  it('a restart that changed --lr and --min-lr runs the earlier segments with the earlier values', () => {
    const cmds = reproduceCommands({ ...DEFAULTS, steps: 40000, lr: 8e-4, minLr: 1e-5 }, [
      { step: 10000, exact: false, stepsBefore: 10000 },
      { step: 24000, exact: false, before: { steps: 24000, lr: 2e-3, minLr: 1e-4 } },
    ]);
    expect(cmds).toEqual([
      T,
      'rm public/model/checkpoint.bin   # step 10000 was a warm restart (fresh AdamW moments)',
      `${T} --steps 24000 --resume`,
      'rm public/model/checkpoint.bin   # step 24000 was a warm restart (fresh AdamW moments)',
      `${T} --steps 40000 --lr 0.0008 --min-lr 0.00001 --resume`,
    ]);
  });
});

describe('train_demo overfit note', () => {
  it('names the step of the lowest held-out loss when training went past it, else nothing', async () => {
    const { overfitNote } = await import('../../scripts/train_demo.ts');
    const evals = [{ step: 0, heldout: 8 }, { step: 1000, heldout: 3.3 }, { step: 2000, heldout: 3.9 }];
    expect(overfitNote(evals, 2000)).toContain('lowest at step 1000 (3.3000)');
    expect(overfitNote(evals.slice(0, 2), 1000)).toBe('');
    expect(overfitNote([], 10)).toBe('');
  });
});
