// WebGPU enum bit values as plain numbers: Node's `webgpu` package does not install the GPUBufferUsage/GPUMapMode
// globals unless asked to, and we do not want to touch globalThis.
export const BufferUsage = {
  MAP_READ: 0x0001,
  MAP_WRITE: 0x0002,
  COPY_SRC: 0x0004,
  COPY_DST: 0x0008,
  UNIFORM: 0x0040,
  STORAGE: 0x0080,
} as const;

export const MapMode = { READ: 0x0001, WRITE: 0x0002 } as const;

/** Usage of every tensor buffer: read/written by kernels, uploaded to, read back from, copied between. */
export const STORAGE_USAGE = BufferUsage.STORAGE | BufferUsage.COPY_SRC | BufferUsage.COPY_DST;
