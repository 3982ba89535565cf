/// <reference types="@webgpu/types" preserve="true" />
// The web component's entry (the npm package's `logra-web/explorer`, and the one-module build's through lib.ts):
// importing it defines <influence-explorer>. (The reference brings WebGPU's types to users of its declarations.)
//   <script type="module" src="/influence-explorer.js"></script>   (built: vite build --config src/explorer/vite.lib.config.ts)
//   <influence-explorer model-url="/model/model.onnx" corpus-url="/corpus/kjv.jsonl" db-name="demo"></influence-explorer>
import { defineInfluenceExplorer } from './element.ts';

export { InfluenceExplorer, InputError, defineInfluenceExplorer, type ExplorerResult, type ExplorerResultItem, type ProgressDetail, type ErrorDetail } from './element.ts';

defineInfluenceExplorer();
