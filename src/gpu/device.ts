// GpuContext: one WebGPU device plus what every kernel needs around it: the limits we plan with, f16 availability,
// a buffer pool, a pipeline cache, batched command encoding with per-dispatch uniforms, uploads, readbacks, and
// device-lost / validation errors surfaced as typed exceptions.
//
// Acquisition per runtime: navigator.gpu in browsers and Deno; in Node the npm package `webgpu` (Dawn), see
// runtime.ts. A caller may hand in its own GPUDevice (adopt) so that onnxruntime-web's WebGPU EP and our kernels
// share one device: create the ORT session with executionProviders [{ name: 'webgpu', device }] (setting
// ort.env.webgpu.device has no effect, see DESIGN.md).
import { BufferPool } from './pool.ts';
import { PipelineCache, type ShaderSpec } from './pipelines.ts';
import { BufferUsage, MapMode, STORAGE_USAGE } from './flags.ts';
import { GpuDeviceLostError, GpuLimitError, GpuUnavailableError, GpuValidationError } from './errors.ts';
import { jsRuntime, nodeGpu, type JsRuntime } from './runtime.ts';

/** The limits kernels plan with (the device's, optionally capped by the caller). */
export interface GpuLimits {
  maxStorageBufferBindingSize: number;
  maxBufferSize: number;
  maxComputeWorkgroupsPerDimension: number;
  maxStorageBuffersPerShaderStage: number;
  maxComputeWorkgroupStorageSize: number;
  maxComputeInvocationsPerWorkgroup: number;
  maxUniformBufferBindingSize: number;
  minStorageBufferOffsetAlignment: number;
  minUniformBufferOffsetAlignment: number;
}

const LIMIT_KEYS: (keyof GpuLimits)[] = [
  'maxStorageBufferBindingSize',
  'maxBufferSize',
  'maxComputeWorkgroupsPerDimension',
  'maxStorageBuffersPerShaderStage',
  'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup',
  'maxUniformBufferBindingSize',
  'minStorageBufferOffsetAlignment',
  'minUniformBufferOffsetAlignment',
];

/** Limits requested at requestDevice: the adapter's real values (defaults are far lower, e.g. 128 MiB bindings). */
const REQUEST_KEYS = [
  ...LIMIT_KEYS,
  'maxComputeWorkgroupSizeX',
  'maxComputeWorkgroupSizeY',
  'maxComputeWorkgroupSizeZ',
  'maxBindGroups',
];

export interface AdapterSummary {
  description: string;
  vendor: string;
  architecture: string;
  isFallbackAdapter: boolean;
}

export interface AcquireOptions {
  /** adopt this device instead of requesting one (it is not destroyed by GpuContext.destroy()) */
  device?: GPUDevice;
  /** request the device from this adapter */
  adapter?: GPUAdapter;
  powerPreference?: GPUPowerPreference;
  /** request 'shader-f16' when the adapter has it (default true) */
  f16?: boolean;
  /** lower caps on the limits our kernels plan with: tests use this to exercise chunking on small data */
  limitCaps?: Partial<GpuLimits>;
  /** Node only: flags for the `webgpu` package's create() (e.g. 'backend=vulkan') */
  nodeFlags?: string[];
  /** Node only: hardware adapters only (software Vulkan drivers are not loaded; see NodeGpuOptions) */
  hardwareOnly?: boolean;
  /** idle pooled bytes to keep (default 256 MiB) */
  maxPooledBytes?: number;
  label?: string;
}

export type BindingResource = GPUBuffer | { buffer: GPUBuffer; offset?: number; size?: number };

function summarize(info: GPUAdapterInfo | undefined, adapter?: GPUAdapter): AdapterSummary {
  const i = (info ?? {}) as Partial<GPUAdapterInfo> & { isFallbackAdapter?: boolean };
  const fallback = i.isFallbackAdapter ?? (adapter as { isFallbackAdapter?: boolean } | undefined)?.isFallbackAdapter ?? false;
  return { description: i.description ?? '', vendor: i.vendor ?? '', architecture: i.architecture ?? '', isFallbackAdapter: !!fallback };
}

/** Upper bound on dispatches recorded into one command buffer before it is submitted. */
const MAX_PASSES_PER_SUBMIT = 512;
/** Uniform bytes per dispatch slot (every kernel's Params struct fits). */
const UNIFORM_SLOT = 256;
const ARENA_SLOTS = 256;

export class GpuContext {
  readonly pool: BufferPool;
  readonly pipelines: PipelineCache;
  readonly limits: GpuLimits;
  readonly f16: boolean;
  readonly runtime: JsRuntime;
  private encoder: GPUCommandEncoder | null = null;
  private passes = 0;
  private arena: GPUBuffer;
  private arenaHost = new Uint8Array(UNIFORM_SLOT * ARENA_SLOTS);
  private arenaUsed = 0;
  private slot: number;
  private lostError: GpuDeviceLostError | null = null;
  private lostPromise: Promise<never>;
  private firstError: GpuValidationError | null = null;
  private dummy: GPUBuffer;
  private destroyed = false;
  private readonly deviceBindingLimit: number;
  /** submits so far (for tests and benchmarks) */
  submits = 0;
  dispatches = 0;

  private constructor(
    readonly device: GPUDevice,
    readonly adapter: AdapterSummary,
    private readonly owned: boolean,
    caps: Partial<GpuLimits>,
    maxPooledBytes: number,
    /** Node: the GPU object must stay referenced while the device is in use, and be dropped to let Node exit */
    private gpuRef: GPU | null,
  ) {
    this.runtime = jsRuntime();
    const l = {} as GpuLimits;
    for (const k of LIMIT_KEYS) {
      const dev = Number((device.limits as unknown as Record<string, number>)[k]);
      const cap = caps[k];
      l[k] = k.startsWith('min') ? Math.max(dev, cap ?? 0) : cap === undefined ? dev : Math.min(dev, cap);
    }
    this.limits = Object.freeze(l);
    this.deviceBindingLimit = Number(device.limits.maxStorageBufferBindingSize);
    this.f16 = device.features.has('shader-f16');
    this.pool = new BufferPool(device, l.maxBufferSize, maxPooledBytes);
    this.pipelines = new PipelineCache(device);
    this.slot = Math.max(UNIFORM_SLOT, l.minUniformBufferOffsetAlignment);
    this.arenaHost = new Uint8Array(this.slot * ARENA_SLOTS);
    this.arena = device.createBuffer({ size: this.arenaHost.byteLength, usage: BufferUsage.UNIFORM | BufferUsage.COPY_DST, label: 'uniform-arena' });
    this.dummy = device.createBuffer({ size: 16, usage: STORAGE_USAGE, label: 'dummy' });
    this.lostPromise = device.lost.then((info) => {
      this.lostError = new GpuDeviceLostError(String(info.reason ?? 'unknown'), info.message ?? '');
      throw this.lostError;
    });
    this.lostPromise.catch(() => {}); // observed through checkAlive()/races; never an unhandled rejection
    device.addEventListener?.('uncapturederror', (ev: Event) => {
      const err = (ev as GPUUncapturedErrorEvent).error;
      if (!this.firstError) this.firstError = new GpuValidationError('uncaptured', err?.message ?? String(err));
    });
  }

  /** Acquires (or adopts) a device. Throws GpuUnavailableError where WebGPU is missing. */
  static async acquire(opts: AcquireOptions = {}): Promise<GpuContext> {
    const runtime = jsRuntime();
    if (opts.device) {
      const info = (opts.device as { adapterInfo?: GPUAdapterInfo }).adapterInfo;
      return new GpuContext(opts.device, summarize(info), false, opts.limitCaps ?? {}, opts.maxPooledBytes ?? 256 * 2 ** 20, null);
    }
    let adapter = opts.adapter ?? null;
    let gpuRef: GPU | null = null;
    if (!adapter) {
      const gpu = runtime === 'node' ? null : (globalThis.navigator as Navigator | undefined)?.gpu;
      if (runtime !== 'node' && !gpu) throw new GpuUnavailableError('navigator.gpu is missing (browsers: serve over https or 127.0.0.1; Chromium without a GPU needs --enable-unsafe-webgpu)', runtime);
      try {
        if (runtime === 'node') {
          const r = await nodeGpu(opts.nodeFlags, { hardwareOnly: opts.hardwareOnly });
          gpuRef = r.gpu;
          adapter = r.adapter;
        } else {
          adapter = await gpu!.requestAdapter({ powerPreference: opts.powerPreference ?? 'high-performance' });
        }
      } catch (e) {
        throw new GpuUnavailableError(`no WebGPU adapter: ${(e as Error).message}`, runtime);
      }
    }
    if (!adapter) throw new GpuUnavailableError('requestAdapter() returned null: no WebGPU adapter', runtime);
    const requiredFeatures: GPUFeatureName[] = [];
    if ((opts.f16 ?? true) && adapter.features.has('shader-f16')) requiredFeatures.push('shader-f16');
    const requiredLimits: Record<string, number> = {};
    const al = adapter.limits as unknown as Record<string, number>;
    for (const k of REQUEST_KEYS) if (typeof al[k] === 'number') requiredLimits[k] = al[k];
    let device: GPUDevice;
    try {
      device = await adapter.requestDevice({ requiredFeatures, requiredLimits, label: opts.label ?? 'logra' });
    } catch (e) {
      // some implementations refuse a limit they report: fall back to the defaults rather than failing
      try {
        device = await adapter.requestDevice({ requiredFeatures, label: opts.label ?? 'logra' });
      } catch {
        throw new GpuUnavailableError(`requestDevice() failed: ${(e as Error).message}`, runtime);
      }
    }
    const info = adapter.info ?? (await (adapter as { requestAdapterInfo?: () => Promise<GPUAdapterInfo> }).requestAdapterInfo?.());
    return new GpuContext(device, summarize(info, adapter), true, opts.limitCaps ?? {}, opts.maxPooledBytes ?? 256 * 2 ** 20, gpuRef);
  }

  /** Node: the `webgpu` package's GPU object behind this device (null elsewhere, after destroy(), or when adopted) */
  get gpu(): GPU | null {
    return this.gpuRef;
  }

  get isLost(): boolean {
    return this.lostError !== null || this.destroyed;
  }

  /** Throws the typed error for a lost device, or the first validation error seen since the last check. */
  checkAlive(): void {
    if (this.lostError) throw this.lostError;
    if (this.destroyed) throw new GpuDeviceLostError('destroyed', 'GpuContext.destroy() was called');
    if (this.firstError) {
      const e = this.firstError;
      this.firstError = null;
      throw e;
    }
  }

  /** Whether `bytes` fits one storage binding. */
  fitsBinding(bytes: number): boolean {
    return bytes <= this.limits.maxStorageBufferBindingSize;
  }

  /** Throws GpuLimitError unless a single buffer of `bytes` is allowed. */
  checkBufferSize(bytes: number, what: string): void {
    if (bytes > this.limits.maxBufferSize) throw new GpuLimitError('maxBufferSize', bytes, this.limits.maxBufferSize, what);
  }

  /** Throws GpuLimitError unless `bytes` fit one storage binding. */
  checkBinding(bytes: number, what: string): void {
    if (bytes > this.limits.maxStorageBufferBindingSize) throw new GpuLimitError('maxStorageBufferBindingSize', bytes, this.limits.maxStorageBufferBindingSize, what);
  }

  pipeline(spec: ShaderSpec): Promise<GPUComputePipeline> {
    this.checkAlive();
    if (spec.f16 && !this.f16) throw new GpuValidationError('validation', `the device has no 'shader-f16' feature`, spec.shader);
    return this.pipelines.get(spec);
  }

  /** A pooled storage buffer (contents undefined). */
  alloc(bytes: number, label?: string): GPUBuffer {
    this.checkAlive();
    this.checkBufferSize(bytes, label ?? 'buffer');
    return this.pool.acquire(bytes, STORAGE_USAGE, label);
  }

  release(buf: GPUBuffer): void {
    if (buf !== this.dummy) this.pool.release(buf);
  }

  /** A 16-byte buffer for bindings a kernel variant does not read. */
  get dummyBuffer(): GPUBuffer {
    return this.dummy;
  }

  /** Copies host data into a (new, pooled) buffer. Pending work is submitted first, so ordering stays program order. */
  upload(data: ArrayBufferView, label?: string): GPUBuffer {
    const buf = this.alloc(data.byteLength, label);
    this.write(buf, 0, data);
    return buf;
  }

  /** queue.writeBuffer after submitting pending work (whose reads of a reused buffer must happen first). */
  write(buf: GPUBuffer, offset: number, data: ArrayBufferView): void {
    this.checkAlive();
    this.flush();
    let bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    // writeBuffer sizes must be multiples of 4; Dawn (Node) rejects SharedArrayBuffer-backed views
    if (bytes.byteLength % 4 !== 0 || (typeof SharedArrayBuffer !== 'undefined' && bytes.buffer instanceof SharedArrayBuffer)) {
      const copy = new Uint8Array(Math.ceil(bytes.byteLength / 4) * 4);
      copy.set(bytes);
      bytes = copy;
    }
    if (bytes.byteLength) this.device.queue.writeBuffer(buf, offset, bytes.buffer as ArrayBuffer, bytes.byteOffset, bytes.byteLength);
  }

  private getEncoder(): GPUCommandEncoder {
    if (!this.encoder) this.encoder = this.device.createCommandEncoder({ label: 'logra-kernels' });
    return this.encoder;
  }

  /**
   * Records one compute dispatch. `uniforms` (if given) is bound at @binding(0) and `buffers` at 1, 2, ...
   * Workgroup counts above maxComputeWorkgroupsPerDimension are an error: wrappers split such work themselves.
   */
  dispatch(pipeline: GPUComputePipeline, buffers: BindingResource[], workgroups: [number, number?, number?], uniforms?: ArrayBuffer | ArrayBufferView, label?: string): void {
    this.checkAlive();
    const [x, y = 1, z = 1] = workgroups;
    const maxWg = this.limits.maxComputeWorkgroupsPerDimension;
    if (x > maxWg || y > maxWg || z > maxWg) throw new GpuLimitError('maxComputeWorkgroupsPerDimension', Math.max(x, y, z), maxWg, label ?? 'dispatch');
    if (x === 0 || y === 0 || z === 0) return;
    const entries: GPUBindGroupEntry[] = [];
    let first = 0;
    if (uniforms) {
      const u = uniforms instanceof ArrayBuffer ? new Uint8Array(uniforms) : new Uint8Array(uniforms.buffer, uniforms.byteOffset, uniforms.byteLength);
      if (u.byteLength > this.slot) throw new Error(`uniform block of ${u.byteLength} bytes > ${this.slot}`);
      if (this.arenaUsed + this.slot > this.arenaHost.byteLength) this.flush();
      const off = this.arenaUsed;
      this.arenaHost.set(u, off);
      this.arenaUsed += this.slot;
      entries.push({ binding: 0, resource: { buffer: this.arena, offset: off, size: Math.ceil(u.byteLength / 16) * 16 } });
      first = 1;
    }
    buffers.forEach((b, i) => {
      // a GPUBuffer has no `buffer` property; a binding window does
      // (a whole pooled buffer may be a size class larger than the binding limit: bind at most the limit)
      const resource = 'buffer' in b ? { buffer: b.buffer, offset: b.offset ?? 0, size: b.size } : { buffer: b, offset: 0, size: Math.min(b.size, this.deviceBindingLimit) };
      entries.push({ binding: first + i, resource });
    });
    const bindGroup = this.device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries, label });
    const pass = this.getEncoder().beginComputePass({ label });
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, bindGroup);
    pass.dispatchWorkgroups(x, y, z);
    pass.end();
    this.dispatches++;
    if (++this.passes >= MAX_PASSES_PER_SUBMIT) this.flush();
  }

  /** Records a buffer-to-buffer copy (sizes and offsets multiples of 4). */
  copy(src: GPUBuffer, srcOffset: number, dst: GPUBuffer, dstOffset: number, size: number): void {
    this.checkAlive();
    if (size > 0) this.getEncoder().copyBufferToBuffer(src, srcOffset, dst, dstOffset, size);
  }

  /** Records zero-filling of a byte range (multiples of 4). */
  clear(buf: GPUBuffer, offset = 0, size = buf.size - offset): void {
    this.checkAlive();
    if (size > 0) this.getEncoder().clearBuffer(buf, offset, size);
  }

  /** Submits recorded work (uniforms first). */
  flush(): void {
    if (!this.encoder) return;
    if (this.arenaUsed) this.device.queue.writeBuffer(this.arena, 0, this.arenaHost.buffer, 0, this.arenaUsed);
    this.device.queue.submit([this.encoder.finish()]);
    this.submits++;
    this.encoder = null;
    this.passes = 0;
    this.arenaUsed = 0;
  }

  /** Submits and waits until the GPU has finished everything submitted; throws typed errors. */
  async sync(): Promise<void> {
    this.flush();
    await Promise.race([this.device.queue.onSubmittedWorkDone(), this.lostPromise]);
    this.checkAlive();
  }

  /** Reads `size` bytes at `offset` of a buffer (after all recorded work). Rejects with GpuDeviceLostError if lost. */
  async readBytes(buf: GPUBuffer, offset = 0, size = buf.size - offset): Promise<ArrayBuffer> {
    this.checkAlive();
    const aligned = Math.ceil(size / 4) * 4;
    const staging = this.pool.acquire(aligned, BufferUsage.MAP_READ | BufferUsage.COPY_DST, 'readback');
    this.getEncoder().copyBufferToBuffer(buf, offset, staging, 0, aligned);
    this.flush();
    try {
      await Promise.race([staging.mapAsync(MapMode.READ, 0, aligned), this.lostPromise]);
    } catch (e) {
      this.checkAlive();
      throw e;
    }
    const out = staging.getMappedRange(0, aligned).slice(0, size);
    staging.unmap();
    this.pool.release(staging);
    this.checkAlive();
    return out;
  }

  async readF32(buf: GPUBuffer, offsetElems = 0, count?: number): Promise<Float32Array> {
    const n = count ?? (buf.size - offsetElems * 4) / 4;
    return new Float32Array(await this.readBytes(buf, offsetElems * 4, n * 4));
  }

  async readU32(buf: GPUBuffer, offsetElems = 0, count?: number): Promise<Uint32Array> {
    const n = count ?? (buf.size - offsetElems * 4) / 4;
    return new Uint32Array(await this.readBytes(buf, offsetElems * 4, n * 4));
  }

  /** Releases pooled buffers; destroys the device if we created it; drops Node's GPU object so the process can exit. */
  destroy(): void {
    if (this.destroyed) return;
    try {
      this.flush();
    } catch {
      /* lost */
    }
    this.destroyed = true;
    this.pool.destroyAll();
    this.arena.destroy();
    this.dummy.destroy();
    if (this.owned) this.device.destroy();
    this.gpuRef = null;
  }
}

/** Convenience: GpuContext.acquire(opts). */
export function acquireGpu(opts: AcquireOptions = {}): Promise<GpuContext> {
  return GpuContext.acquire(opts);
}
