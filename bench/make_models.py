"""Benchmark models (random weights), exported by the fixture builder's own modules with larger sizes:
  /usr/bin/python3 bench/make_models.py               GPT-2-style LMs at the demo's scale (bench/models/, committed)
  /usr/bin/python3 bench/make_models.py gpt2-small    GPT-2-small's shape (12 layers, width 768, 12 heads, vocab
                                                      50,257, context 1,024, tied head, HF Conv1D, tanh GELU; 124M
                                                      parameters, ~650 MB) -> bench/models/gpt2-small.onnx (not
                                                      committed: generate it)
  /usr/bin/python3 bench/make_models.py llama-0.5b  a Llama-style model of 0.50B parameters (24 layers, hidden 1,024,
                                                      16 heads, 8 key/value heads, MLP 4,864, vocab 32,000, RMSNorm,
                                                      rotary, SwiGLU; random weights) as a model folder with its 2 GB
                                                      of weights in external data: bench/models/llama-0.5b/ (config.json,
                                                      onnx/model.onnx + onnx/model.onnx_data; not committed)
(needs python3-torch, python3-onnx)."""
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "test", "fixtures"))
import make_fixtures as mf  # noqa: E402

SIZES = dict(VOCAB=512, N_EMBD=128, N_HEAD=4, N_LAYER=4, N_POSITIONS=128)


GPT2_SMALL = dict(VOCAB=50257, N_EMBD=768, N_HEAD=12, N_LAYER=12, N_POSITIONS=1024)


def gpt2_small(path):
    for k, v in GPT2_SMALL.items():
        setattr(mf, k, v)
    mf.N_INNER = 4 * mf.N_EMBD
    torch.manual_seed(0)
    model = gpt2_small_module()
    ids = torch.randint(0, mf.VOCAB, (2, 8))
    mask = torch.ones(2, 8, dtype=torch.long)
    dyn = {n: {0: "batch", 1: "sequence"} for n in ["input_ids", "attention_mask", "logits"]}
    mf.export(model, (ids, mask), path, ["input_ids", "attention_mask"], dyn, 17)
    print(path, os.path.getsize(path), "bytes")


def gpt2_small_module():
    """The GPT-2-small-shaped module with its seeded weights (bench/torch_fwd_bwd.py rebuilds the same one)."""
    for k, v in GPT2_SMALL.items():
        setattr(mf, k, v)
    mf.N_INNER = 4 * mf.N_EMBD
    torch.manual_seed(0)
    model = mf.GPT2("conv1d", "tanh", tied=True)
    mf.init_weights(model)
    model.eval()
    return model


LLAMA_05B = {"vocab": 32000, "hidden": 1024, "heads": 16, "kv_heads": 8, "head_dim": 64, "inter": 4864, "layers": 24,
             "max_pos": 2048, "theta": 10000.0, "eps": 1e-6}


def llama_05b(out):
    """Exports the module of the fixtures' Llama-style folder (test/fixtures/make_user_models.py) at 0.5B parameters."""
    import json
    import onnx
    import make_user_models as mu
    c = LLAMA_05B
    torch.manual_seed(0)
    model = mu.LlamaForCausalLM(c)
    with torch.no_grad():
        for p in model.parameters():
            if p.dim() == 2:
                p.normal_(0.0, 0.02)
    model.eval()
    params = sum(p.numel() for p in model.parameters())
    os.makedirs(os.path.join(out, "onnx"), exist_ok=True)
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump({"architectures": ["LlamaForCausalLM"], "model_type": "llama", "vocab_size": c["vocab"],
                   "hidden_size": c["hidden"], "num_hidden_layers": c["layers"], "num_attention_heads": c["heads"],
                   "num_key_value_heads": c["kv_heads"], "intermediate_size": c["inter"],
                   "max_position_embeddings": c["max_pos"], "rms_norm_eps": c["eps"], "rope_theta": c["theta"],
                   "parameters": params}, f, indent=1)
    T = 5
    dummy = (torch.randint(0, c["vocab"], (2, T)), torch.ones(2, T, dtype=torch.long), torch.arange(T).unsqueeze(0).repeat(2, 1))
    names = ["input_ids", "attention_mask", "position_ids"]
    tmp = os.path.join(out, "export")
    os.makedirs(tmp, exist_ok=True)
    tmp_model = os.path.join(tmp, "model.onnx")
    # over 2 GB: torch writes the weights as external data beside the graph
    torch.onnx.export(model, dummy, tmp_model, input_names=names, output_names=["logits"],
                      dynamic_axes={n: {0: "batch_size", 1: "sequence_length"} for n in names + ["logits"]},
                      opset_version=17, do_constant_folding=True)
    m = onnx.load(tmp_model)  # loads the external tensors
    path = os.path.join(out, "onnx", "model.onnx")
    data = "model.onnx_data"
    if os.path.exists(os.path.join(out, "onnx", data)):
        os.remove(os.path.join(out, "onnx", data))
    onnx.save_model(m, path, save_as_external_data=True, all_tensors_to_one_file=True, location=data, size_threshold=1024)
    import shutil
    shutil.rmtree(tmp)
    print(path, params, "parameters,", os.path.getsize(os.path.join(out, "onnx", data)), "bytes of external data")


def main():
    if sys.argv[1:] == ["llama-0.5b"]:
        sys.path.insert(0, os.path.join(HERE, "..", "test", "fixtures"))
        llama_05b(os.path.join(HERE, "models", "llama-0.5b"))
        return
    if sys.argv[1:] == ["gpt2-small"]:
        os.makedirs(os.path.join(HERE, "models"), exist_ok=True)
        gpt2_small(os.path.join(HERE, "models", "gpt2-small.onnx"))
        return
    for k, v in SIZES.items():
        setattr(mf, k, v)
    mf.N_INNER = 4 * mf.N_EMBD
    os.makedirs(os.path.join(HERE, "models"), exist_ok=True)
    for flavour, gelu, opset in [("linear", "erf", 17), ("conv1d", "tanh", 14)]:
        torch.manual_seed(0)
        model = mf.GPT2(flavour, gelu, tied=False)
        mf.init_weights(model)
        model.eval()
        ids = torch.randint(0, mf.VOCAB, (2, 8))
        mask = torch.ones(2, 8, dtype=torch.long)
        name = f"gpt2_{flavour}_w{mf.N_EMBD}_l{mf.N_LAYER}_op{opset}"
        path = os.path.join(HERE, "models", f"{name}.onnx")
        dyn = {n: {0: "batch", 1: "sequence"} for n in ["input_ids", "attention_mask", "logits"]}
        mf.export(model, (ids, mask), path, ["input_ids", "attention_mask"], dyn, opset)
        print(name, os.path.getsize(path), "bytes")


if __name__ == "__main__":
    main()
