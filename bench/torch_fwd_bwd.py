"""PyTorch's plain forward + backward over the same model and examples as our logging (what a user would run
instead): the summed next-token loss of each batch, backward to every parameter, no optimizer step.
  /usr/bin/python3 bench/torch_fwd_bwd.py --model gpt2-small --data data.jsonl [--batch 8] [--threads 2] [--rounds 1]
prints one JSON line per round: {"tokens", "seconds", "tokensPerS", "cpuS", "tokensPerCpuS", "threads", "peakRssMiB"}.
The model is rebuilt from the seeded modules of bench/make_models.py (the same weights as the exported ONNX)."""
import argparse
import json
import resource
import time

import torch
import torch.nn.functional as F

import make_models


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="gpt2-small", choices=["gpt2-small"])
    ap.add_argument("--data", required=True)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--rounds", type=int, default=1)
    a = ap.parse_args()
    if a.threads > 0:
        torch.set_num_threads(a.threads)
    model = make_models.gpt2_small_module()
    model.train(False)  # dropout off, as in the exported graph
    rows = [json.loads(line) for line in open(a.data) if line.strip()]
    seqs = [r["input_ids"] for r in rows]
    tokens = sum(len(s) for s in seqs)
    for _ in range(a.rounds):
        c0 = resource.getrusage(resource.RUSAGE_SELF)
        t0 = time.perf_counter()
        for i in range(0, len(seqs), a.batch):
            batch = seqs[i:i + a.batch]
            T = max(len(s) for s in batch)
            ids = torch.zeros(len(batch), T, dtype=torch.long)
            mask = torch.zeros(len(batch), T, dtype=torch.long)
            for b, s in enumerate(batch):
                ids[b, :len(s)] = torch.tensor(s)
                mask[b, :len(s)] = 1
            logits = model(ids, mask)
            # next-token loss over real positions, summed (the engine's loss)
            tgt = ids[:, 1:].clone()
            tgt[mask[:, 1:] == 0] = -100
            loss = F.cross_entropy(logits[:, :-1].reshape(-1, logits.size(-1)), tgt.reshape(-1), ignore_index=-100, reduction="sum")
            model.zero_grad(set_to_none=True)
            loss.backward()
        dt = time.perf_counter() - t0
        c1 = resource.getrusage(resource.RUSAGE_SELF)
        cpu = (c1.ru_utime - c0.ru_utime) + (c1.ru_stime - c0.ru_stime)
        print(json.dumps({"tokens": tokens, "seconds": dt, "tokensPerS": tokens / dt, "cpuS": cpu, "tokensPerCpuS": tokens / cpu,
                          "threads": torch.get_num_threads(), "peakRssMiB": c1.ru_maxrss / 1024}), flush=True)


if __name__ == "__main__":
    main()
