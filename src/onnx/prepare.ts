// One step before differentiation: whatever precision a model file holds, make it a float32 model of standard ops.
// External data is validated first (every reference against its file), quantised weights are dequantised
// (dequantize.ts), half precision is made float32 (float32.ts), and dead nodes are dropped. The notes are the lines
// a user sees: which weights were dequantised, and that the gradients are those of the dequantised model.
import type { ModelProto } from './codec.ts';
import { checkExternalData, type ExternalFiles } from './external.ts';
import { dequantizeModel, isQuantized, type DequantizeReport } from './dequantize.ts';
import { hasHalfPrecision, upcastToFloat32, type UpcastReport } from './float32.ts';

export interface PrepareReport {
  dequantized?: DequantizeReport;
  upcast?: UpcastReport;
  /** one line each: what was changed, and what that means for the gradients */
  notes: string[];
}

/** Prepares `model` in place; converted external weights are added to `files` (pass a copy you own). */
export function prepareModel(model: ModelProto, files: ExternalFiles, source = 'model'): PrepareReport {
  checkExternalData(model, files, source);
  const report: PrepareReport = { notes: [] };
  if (isQuantized(model)) {
    const d = dequantizeModel(model, files, source);
    report.dequantized = d;
    const ops = Object.entries(d.ops).map(([op, n]) => `${op} x${n}`).join(', ');
    report.notes.push(
      `warning: ${source}: dequantised ${d.weights.length} quantised weight${d.weights.length === 1 ? '' : 's'} to float32 (${ops})` +
        `${d.fakeQuant ? ` and removed ${d.fakeQuant} activation fake-quantisation pair${d.fakeQuant === 1 ? '' : 's'}` : ''}; ` +
        'the model runs in float32 without activation quantisation, so gradients and scores are those of the dequantised model',
    );
  }
  if (hasHalfPrecision(model)) {
    const u = upcastToFloat32(model, files, source);
    report.upcast = u;
    report.notes.push(
      `warning: ${source}: float16 model computed in float32 (${u.tensors} half-precision weight and constant tensor${u.tensors === 1 ? '' : 's'} ` +
        `converted exactly, ${u.casts} Cast${u.casts === 1 ? '' : 's'} to float16 retargeted); gradients and scores are those of the dequantised (float32) model`,
    );
  }
  return report;
}
