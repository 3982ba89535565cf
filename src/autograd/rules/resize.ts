// Resize in nearest mode by integer factors (the upsampling CNNs and U-Nets use): each input element is copied to a
// block of s_1 x s_2 x ... outputs, so its gradient is the sum of that block. The coordinate transformation and
// nearest rounding of the node are checked (at the probe's sizes) to map output i to input floor(i / s).
import { attrInt, attrString } from '../../onnx/tensor.ts';
import type { RuleTable, VjpContext } from '../rule.ts';

/** ONNX Resize's output -> input coordinate for nearest mode, as the spec defines it. */
function sourceIndex(mode: string, rounding: string, o: number, scale: number, lenIn: number, lenOut: number): number | undefined {
  let x: number;
  switch (mode) {
    case 'half_pixel': x = (o + 0.5) / scale - 0.5; break;
    case 'pytorch_half_pixel': x = lenOut > 1 ? (o + 0.5) / scale - 0.5 : 0; break;
    case 'align_corners': x = lenOut > 1 ? (o * (lenIn - 1)) / (lenOut - 1) : 0; break;
    case 'asymmetric': x = o / scale; break;
    case 'tf_half_pixel_for_nn': x = (o + 0.5) / scale; break;
    default: return undefined;
  }
  let i: number;
  switch (rounding) {
    case 'round_prefer_floor': i = x - Math.floor(x) === 0.5 ? Math.floor(x) : Math.round(x); break;
    case 'round_prefer_ceil': i = x - Math.floor(x) === 0.5 ? Math.ceil(x) : Math.round(x); break;
    case 'floor': i = Math.floor(x); break;
    case 'ceil': i = Math.ceil(x); break;
    default: return undefined;
  }
  return Math.min(Math.max(i, 0), lenIn - 1);
}

function resize(c: VjpContext): (string | undefined)[] {
  const { e } = c;
  const x = c.input(0), y = c.output(0);
  const mode = attrString(c.node, 'mode', 'nearest');
  if (mode !== 'nearest') c.fail(`mode ${JSON.stringify(mode)} is not differentiable here (nearest only)`);
  if (attrInt(c.node, 'antialias', 0) !== 0) c.fail('antialias is not supported');
  const coord = attrString(c.node, 'coordinate_transformation_mode', 'half_pixel');
  const rounding = attrString(c.node, 'nearest_mode', 'round_prefer_floor');
  const din = e.dims(x), dout = e.dims(y);
  const factors = din.map((d, i) => dout[i] / d);
  factors.forEach((s, axis) => {
    if (!Number.isInteger(s) || s < 1) c.fail(`axis ${axis} is resized by ${dout[axis]}/${din[axis]}: only integer upsampling factors are supported`);
    for (let o = 0; o < dout[axis]; o++) {
      if (s > 1 && sourceIndex(coord, rounding, o, s, din[axis], dout[axis]) !== Math.floor(o / s)) {
        c.fail(`coordinate_transformation_mode ${JSON.stringify(coord)} with nearest_mode ${JSON.stringify(rounding)} does not copy blocks; only block-copying nearest upsampling is supported`);
      }
    }
  });
  // dY [.., d_i * s_i, ..] -> [.., d_i, s_i, ..] -> sum over the s_i axes
  const parts: string[] = [];
  const sumAxes: number[] = [];
  factors.forEach((s, i) => {
    parts.push(e.dimOf(x, i));
    if (s > 1) {
      parts.push(e.ints([s]));
      sumAxes.push(parts.length - 1);
    }
  });
  if (sumAxes.length === 0) return [c.dy()!];
  const blocks = e.reshape(c.dy()!, e.op('Concat', parts, { axis: 0 }));
  return [e.known(e.reduce('ReduceSum', blocks, sumAxes, false), din, e.shape(x).elemType)];
}

export const resizeRules: RuleTable = { Resize: resize };
