"""Benchmark models (random weights): a GPT-2-style LM at the demo's scale, exported by the fixture builder's own
modules with larger sizes. Run: /usr/bin/python3 bench/make_models.py  (needs python3-torch, python3-onnx)."""
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "test", "fixtures"))
import make_fixtures as mf  # noqa: E402

SIZES = dict(VOCAB=512, N_EMBD=128, N_HEAD=4, N_LAYER=4, N_POSITIONS=128)


def main():
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
