"""The PyTorch side of the zoo benchmark (tests/Kiln.Benchmarks/zoo-vs-pytorch.sh runs it; Debian's python3-torch).

The zoo models of DESIGN.md with the same shapes and hyper-parameters as the Kiln declarations (tests/Zoo/Zoo.cs),
and three ways to run this file:
  zoo.py --serve            a worker: reads one JSON command per line on stdin, answers one JSON line on stdout
                            {"model": "Z1", "mode": "train"|"infer"|"infer1", "variant": "eager"|"jit",
                             "iterations": N}  ->  {"us": [per-iteration microseconds...]}
                            The thread count is fixed per process: torch.set_num_threads(KILN_THREADS) and the
                            OPENBLAS_NUM_THREADS the launcher sets (torch's setting does not limit OpenBLAS).
  zoo.py --export DIR       writes DIR/<model>.onnx (batch dimension dynamic) for ONNX Runtime
  zoo.py --memory MODEL     a fresh process: resident set before building the model and peak after 50 training
                            steps (VmHWM), in kB
"""
import json, os, sys, time

import torch
from torch import nn
import torch.nn.functional as F


class Z1(nn.Module):
    """MLP 784-256-128-10, ReLU, softmax cross-entropy (samples/Mnist/MnistMlp.cs)."""
    batch, inputs, classes = 64, 784, 10

    def __init__(self):
        super().__init__()
        self.Hidden1, self.Hidden2, self.Logits = nn.Linear(784, 256), nn.Linear(256, 128), nn.Linear(128, 10)

    def forward(self, x):
        return self.Logits(F.relu(self.Hidden2(F.relu(self.Hidden1(x)))))

    @staticmethod
    def data(batch):
        return torch.rand(batch, 784), torch.randint(0, 10, (batch,))

    @staticmethod
    def loss(out, target):
        return F.cross_entropy(out, target)


class Z2(nn.Module):
    """CNN on 3x32x32: conv3x3 32-32, maxpool 2, conv3x3 64-64, maxpool 2, dense 256-10, ReLU, padding 1, softmax
    cross-entropy (samples/Cifar/CifarCnn.cs)."""
    batch, classes = 32, 10

    def __init__(self):
        super().__init__()
        self.Conv1, self.Conv2 = nn.Conv2d(3, 32, 3, padding=1), nn.Conv2d(32, 32, 3, padding=1)
        self.Conv3, self.Conv4 = nn.Conv2d(32, 64, 3, padding=1), nn.Conv2d(64, 64, 3, padding=1)
        self.Hidden, self.Logits = nn.Linear(4096, 256), nn.Linear(256, 10)

    def forward(self, x):
        h = F.max_pool2d(F.relu(self.Conv2(F.relu(self.Conv1(x)))), 2)
        h = F.max_pool2d(F.relu(self.Conv4(F.relu(self.Conv3(h)))), 2)
        return self.Logits(F.relu(self.Hidden(h.flatten(1))))

    @staticmethod
    def data(batch):
        return torch.rand(batch, 3, 32, 32), torch.randint(0, 10, (batch,))

    @staticmethod
    def loss(out, target):
        return F.cross_entropy(out, target)


class Z3(nn.Module):
    """Char LSTM: vocab 65, embedding 64, LSTM 128, 64 steps, a Linear to the vocabulary at every step, cross-entropy
    over every step (samples/CharRnn/CharLstm.cs). generate() is one step of generation at batch 1 with its state."""
    batch, steps, vocab = 32, 64, 65
    onnx = False
    recurrent = True
    cell = nn.LSTM

    def __init__(self):
        super().__init__()
        self.Embed, self.Logits = nn.Embedding(65, 64), nn.Linear(128, 65)
        self.Rnn = self.cell(64, 128, batch_first=True)

    def forward(self, x, state=None):
        h, state = self.Rnn(self.Embed(x), state)
        return self.Logits(h), state

    @staticmethod
    def data(batch):
        return torch.randint(0, 65, (batch, 64)), torch.randint(0, 65, (batch, 64))

    @staticmethod
    def loss(out, target):
        return F.cross_entropy(out[0].reshape(-1, 65), target.reshape(-1))


class Z4(Z3):
    """Char GRU: Z3 with a GRU (samples/CharRnn/CharGru.cs)."""
    cell = nn.GRU


class Z5(nn.Module):
    """GPT-mini: vocab 65, context 64, d_model 128, learned positions, 2 pre-LN causal blocks of nn.MultiheadAttention
    (4 heads) and a GELU feed-forward of 512, a final LayerNorm, the logits at every step (samples/Gpt/GptMini.cs)."""
    batch, steps, vocab = 16, 64, 65
    onnx = False

    def __init__(self):
        super().__init__()
        self.Embed, self.Positions = nn.Embedding(65, 128), nn.Parameter(torch.randn(64, 128))
        self.Blocks = nn.ModuleList()
        for _ in range(2):
            b = nn.Module()
            b.Norm1, b.Attn = nn.LayerNorm(128), nn.MultiheadAttention(128, 4, batch_first=True)
            b.Norm2, b.Up, b.Down = nn.LayerNorm(128), nn.Linear(128, 512), nn.Linear(512, 128)
            self.Blocks.append(b)
        self.Norm, self.Logits = nn.LayerNorm(128), nn.Linear(128, 65)
        self.register_buffer("mask", torch.triu(torch.ones(64, 64, dtype=torch.bool), 1))

    def forward(self, x):
        h = self.Embed(x) + self.Positions[: x.shape[1]]
        mask = self.mask[: x.shape[1], : x.shape[1]]
        for b in self.Blocks:
            a = b.Norm1(h)
            h = h + b.Attn(a, a, a, need_weights=False, attn_mask=mask)[0]
            h = h + b.Down(F.gelu(b.Up(b.Norm2(h))))
        return self.Logits(self.Norm(h))

    @staticmethod
    def data(batch):
        return torch.randint(0, 65, (batch, 64)), torch.randint(0, 65, (batch, 64))

    @staticmethod
    def loss(out, target):
        return F.cross_entropy(out.reshape(-1, 65), target.reshape(-1))


ZOO = {"Z1": Z1, "Z2": Z2, "Z3": Z3, "Z4": Z4, "Z5": Z5}


class Runner:
    """One model with its Adam (lr 1e-3) and a batch of data; the jit variant is traced and frozen per batch size."""

    def __init__(self, name):
        torch.manual_seed(1)
        self.cls = ZOO[name]
        self.model = self.cls()
        self.adam = torch.optim.Adam(self.model.parameters(), lr=1e-3)
        self.x, self.y = self.cls.data(self.cls.batch)
        self.frozen = {}
        self.state = None
        self.token = torch.tensor([[7]])

    def generate(self):
        # Greedy generation of a whole context from one token without a cache: the model over every token so far for
        # each new one (as nanoGPT's generate does).
        idx = torch.tensor([[7]])
        self.model.eval()
        with torch.no_grad():
            for i in range(self.cls.steps):
                logits = self.model(idx[:, -self.cls.steps:])
                if i + 1 < self.cls.steps:
                    idx = torch.cat([idx, torch.argmax(logits[:, -1, :], dim=-1, keepdim=True)], dim=1)
        self.model.train()

    def train(self):
        self.adam.zero_grad(set_to_none=True)
        loss = self.cls.loss(self.model(self.x), self.y)
        loss.backward()
        self.adam.step()

    def infer(self, rows, variant):
        if getattr(self.cls, "recurrent", False) and rows == 1:
            # One step of generation: one character in, the next one's logits out, the state carried.
            with torch.no_grad():
                if self.state is None:
                    self.state = self.model(self.token)[1]
                if variant == "jit":
                    if "step" not in self.frozen:
                        self.model.eval()
                        self.frozen["step"] = torch.jit.freeze(torch.jit.trace(self.model, (self.token, self.state)))
                        self.model.train()
                    _, self.state = self.frozen["step"](self.token, self.state)
                else:
                    _, self.state = self.model(self.token, self.state)
            return
        x = self.x[:rows]
        with torch.no_grad():
            if variant == "jit":
                if rows not in self.frozen:
                    self.model.eval()
                    self.frozen[rows] = torch.jit.freeze(torch.jit.trace(self.model, x))
                    self.model.train()
                self.frozen[rows](x)
            else:
                self.model(x)


def serve():
    torch.set_num_threads(int(os.environ.get("KILN_THREADS", "1")))
    runners = {}
    print(json.dumps({"ready": True, "torch": torch.__version__, "threads": torch.get_num_threads()}), flush=True)
    for line in sys.stdin:
        command = json.loads(line)
        runner = runners.get(command["model"]) or runners.setdefault(command["model"], Runner(command["model"]))
        mode, variant = command["mode"], command.get("variant", "eager")
        if mode == "train":
            step = runner.train
        elif mode == "generate":
            step = runner.generate
        else:
            rows = runner.cls.batch if mode == "infer" else 1
            step = lambda: runner.infer(rows, variant)
        step()  # the first call of a round traces/allocates; it is not timed
        times = []
        for _ in range(command["iterations"]):
            start = time.perf_counter_ns()
            step()
            times.append((time.perf_counter_ns() - start) / 1000)
        print(json.dumps({"us": times}), flush=True)


def export(directory):
    os.makedirs(directory, exist_ok=True)
    for name, cls in ZOO.items():
        if not getattr(cls, "onnx", True):
            continue  # the recurrent models: no ONNX Runtime figure (their generation step needs state inputs)
        torch.manual_seed(1)
        model = cls().eval()
        x, _ = cls.data(cls.batch)
        path = os.path.join(directory, f"{name}.onnx")
        torch.onnx.export(model, x, path, input_names=["input"], output_names=["output"],
                          dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}}, opset_version=14)
        print(f"exported {path}")


def status_kb(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return -1


def memory(name):
    torch.set_num_threads(int(os.environ.get("KILN_THREADS", "1")))
    baseline = status_kb("VmRSS")
    runner = Runner(name)
    for _ in range(50):
        runner.train()
    print(json.dumps({"baseline_kb": baseline, "peak_kb": status_kb("VmHWM")}), flush=True)


if __name__ == "__main__":
    if sys.argv[1] == "--serve":
        serve()
    elif sys.argv[1] == "--export":
        export(sys.argv[2])
    elif sys.argv[1] == "--memory":
        memory(sys.argv[2])
    else:
        sys.exit(__doc__)
