/** A node on the differentiated path whose op has no backward rule. */
export class UnsupportedOpError extends Error {
  constructor(
    readonly opType: string,
    readonly nodeName: string,
    readonly opset: number,
    readonly domain: string,
    supported: string[],
    detail?: string,
  ) {
    const op = domain ? `${domain}.${opType}` : opType;
    super(
      `cannot differentiate node ${JSON.stringify(nodeName)} (op ${op}, opset ${opset})` +
        (detail ? `: ${detail}` : ': no backward rule for this op') +
        `. It lies between a tapped layer and the loss. Supported ops: ${supported.join(', ')}.` +
        (domain === 'com.microsoft'
          ? ' This is an onnxruntime fused op: export the model without graph optimisation (e.g. Optimum with --optimize none, no ORT transformers optimizer).'
          : ''),
    );
    this.name = 'UnsupportedOpError';
  }
}

/** A model the builder cannot work with as a whole (no logits, old opset, no tappable layer, ...). */
export class ModelStructureError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ModelStructureError';
  }
}
