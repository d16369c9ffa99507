"""Zoo model Z1 in PyTorch, timed like tests/Kiln.Benchmarks/ZooBenchmarks.cs: one training step (forward +
backward + Adam) at batch 64, inference at batch 64 and 1. Prints median microseconds (and the spread).
Run with Debian's python3-torch: /usr/bin/python3 z1.py [threads]. Best configuration for PyTorch here:
MALLOC_MMAP_THRESHOLD_=67108864 MALLOC_TRIM_THRESHOLD_=134217728."""
import statistics, sys, time
import torch
from torch import nn

threads = int(sys.argv[1]) if len(sys.argv) > 1 else 1
torch.set_num_threads(threads)
torch.manual_seed(1)
model = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(), nn.Linear(128, 10))
adam = torch.optim.Adam(model.parameters(), lr=1e-3)
loss_fn = nn.CrossEntropyLoss()
x = torch.rand(64, 784)
y = torch.randint(0, 10, (64,))

def train():
    adam.zero_grad(set_to_none=True)
    loss = loss_fn(model(x), y)
    loss.backward()
    adam.step()

def infer(batch):
    with torch.no_grad():
        model(x[:batch])

def measure(fn, repeats=400, warmup=100):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter_ns()
        fn()
        times.append((time.perf_counter_ns() - start) / 1000)
    q = statistics.quantiles(times, n=4)
    return statistics.median(times), q[0], q[2]

for name, fn in (("Z1 train step, batch 64", train), ("Z1 inference, batch 64", lambda: infer(64)), ("Z1 inference, batch 1", lambda: infer(1))):
    median, low, high = measure(fn)
    print(f"pytorch {threads}T  {name:26s} median {median:8.1f} us  (IQR {low:.1f}-{high:.1f})")
