"""Benchmark models (random weights), exported by the fixture builder's own modules with larger sizes:
  /usr/bin/python3 bench/make_models.py               GPT-2-style LMs at the demo's scale (bench/models/, committed)
  /usr/bin/python3 bench/make_models.py gpt2-small    GPT-2-small's shape (12 layers, width 768, 12 heads, vocab
                                                      50,257, context 1,024, tied head, HF Conv1D, tanh GELU; 124M
                                                      parameters, ~650 MB) -> bench/models/gpt2-small.onnx (not
                                                      committed: generate it)
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


def main():
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
