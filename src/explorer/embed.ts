// The one-module build entry of the web component: importing it defines <influence-explorer>.
//   <script type="module" src="/influence-explorer.js"></script>   (built: vite build --config src/explorer/vite.lib.config.ts)
//   <influence-explorer model-url="/model/model.onnx" corpus-url="/corpus/kjv.jsonl" db-name="demo"></influence-explorer>
import { defineInfluenceExplorer } from './element.ts';

export { InfluenceExplorer, defineInfluenceExplorer, type ExplorerResult, type ExplorerResultItem, type ProgressDetail, type ErrorDetail } from './element.ts';

defineInfluenceExplorer();
