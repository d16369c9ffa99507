"""PyTorch reference values for the parity suite (tests/Kiln.Models.Tests/ParityTests.cs).

For each case — zoo models and single ops, each defined here with the same shapes, names and layouts as the Kiln
declaration — this writes two small safetensors files next to this script:
  <case>.weights.safetensors   the initial parameters (PyTorch names: "Hidden1.weight" [out, in], "Hidden1.bias")
  <case>.expected.safetensors  input, target, loss, grad.<parameter> for every parameter, trajectory (the loss of
                               3 Adam steps, lr 1e-3 — or for Z2 SGD, lr 0.1, momentum 0.9 — and the loss after
                               them), after.<parameter> (after the 3 steps;
                               for tensors over 10,000 values after_norm.<parameter> and after_head.<parameter>, the
                               L2 norm and the first 64 values, to keep the files small)
Targets and labels are stored as F32 (labels are small integers). Everything is float32 on the CPU, seeded.
Models with batch norm also store buffer.<name> (the running statistics after the gradient pass), after_buffer.<name>
(after the trajectory) and eval_loss (the loss in evaluation mode at the end); the weights file holds the buffers
too, num_batches_tracked as I64 as PyTorch keeps it. Gradients of tensors over 10,000 values are stored as
grad_every97.<parameter> (every 97th value) to keep the files small.

Run with Debian's python3-torch (installed when missing):  tests/Kiln.Models.Tests/Parity/export.sh
"""
import json, os, struct, sys

import torch
from torch import nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))


def save_safetensors(path, tensors):
    """The safetensors format by hand (Debian has no python3-safetensors): 8-byte header length, JSON header, data."""
    header, chunks, offset = {"__metadata__": {"format": "pt", "made_by": "tests/Kiln.Models.Tests/Parity/export.py"}}, [], 0
    for name, tensor in tensors.items():
        # int64 tensors (batch norm's num_batches_tracked) stay I64, as torch's own safetensors writer keeps them.
        dtype = "I64" if tensor.dtype == torch.int64 else "F32"
        data = tensor.detach().to(torch.int64 if dtype == "I64" else torch.float32).contiguous().numpy().tobytes()
        header[name] = {"dtype": dtype, "shape": list(tensor.shape), "data_offsets": [offset, offset + len(data)]}
        chunks.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path + ".tmp", "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for chunk in chunks:
            f.write(chunk)
    os.replace(path + ".tmp", path)


def load_safetensors(path):
    """Reads a safetensors file as the reference implementation does: F32 tensors whose data offsets cover the data
    section back to back with no gap or overlap. Returns {name: tensor}."""
    with open(path, "rb") as f:
        blob = f.read()
    (length,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + length])
    data = blob[8 + length:]
    header.pop("__metadata__", None)
    spans = sorted((v["data_offsets"][0], v["data_offsets"][1], k) for k, v in header.items())
    cursor = 0
    for begin, end, name in spans:
        assert begin == cursor, f"{path}: '{name}' starts at {begin}, the previous tensor ended at {cursor}"
        cursor = end
    assert cursor == len(data), f"{path}: the tensors cover {cursor} of {len(data)} data bytes"
    tensors = {}
    for name, v in header.items():
        assert v["dtype"] == "F32", f"{name}: {v['dtype']}"
        begin, end = v["data_offsets"]
        tensors[name] = torch.frombuffer(bytearray(data[begin:end]), dtype=torch.float32).reshape(v["shape"])
    return tensors


def verify_kiln_written():
    """Kiln's copy of the Z1 state_dict (written by ParityTests from z1.weights.safetensors) reads back into the
    same PyTorch tensors, in the layout the reference reader demands."""
    path = os.path.join(HERE, "z1.kiln-written.safetensors")
    if not os.path.exists(path):
        print("z1.kiln-written.safetensors is missing: run the parity tests, which write it as .received")
        return
    original, kiln = load_safetensors(os.path.join(HERE, "z1.weights.safetensors")), load_safetensors(path)
    assert original.keys() == kiln.keys(), (original.keys(), kiln.keys())
    for name in original:
        assert torch.equal(original[name], kiln[name]), name
    model = Named(Hidden1=nn.Linear(784, 256), Hidden2=nn.Linear(256, 128), Logits=nn.Linear(128, 10))
    model.load_state_dict(kiln)  # strict: every name and shape of the PyTorch module
    print(f"verified     Kiln's z1.kiln-written.safetensors loads into the PyTorch module ({len(kiln)} tensors, equal)")


class Named(nn.Module):
    """A module whose state_dict names are the Kiln node names (Hidden1.weight, ...)."""

    def __init__(self, **layers):
        super().__init__()
        for name, layer in layers.items():
            setattr(self, name, layer)


def mse_case(model, forward, batch, inputs, outputs):
    x = torch.randn(batch, inputs)
    target = torch.randn(batch, outputs)
    return model, forward, x, target, lambda out, t: F.mse_loss(out, t)


def ce_case(model, forward, batch, inputs, classes, x=None):
    x = torch.randn(batch, inputs) if x is None else x
    labels = torch.randint(0, classes, (batch,))
    return model, forward, x, labels, lambda out, t: F.cross_entropy(out, t)


def cases():
    # Z1: the zoo MLP (samples/Mnist/MnistMlp.cs), 8 rows of pixels in [0, 1).
    z1 = Named(Hidden1=nn.Linear(784, 256), Hidden2=nn.Linear(256, 128), Logits=nn.Linear(128, 10))
    yield "z1", ce_case(z1, lambda m, x: m.Logits(F.relu(m.Hidden2(F.relu(m.Hidden1(x))))), 8, 784, 10, x=torch.rand(8, 784))

    # Single ops (tests/Kiln.Models.Tests/OpModels.cs), batch 4.
    m = Named(Out=nn.Linear(5, 3))
    yield "dense_mse", mse_case(m, lambda m, x: m.Out(x), 4, 5, 3)
    m = Named(H=nn.Linear(5, 6, bias=False), Out=nn.Linear(6, 3))
    yield "relu_nobias", mse_case(m, lambda m, x: m.Out(F.relu(m.H(x))), 4, 5, 3)
    m = Named(H=nn.Linear(5, 6), Out=nn.Linear(6, 3))
    yield "leaky_relu", mse_case(m, lambda m, x: m.Out(F.leaky_relu(m.H(x), 0.2)), 4, 5, 3)
    m = Named(H=nn.Linear(5, 6), Out=nn.Linear(6, 3))
    yield "sigmoid", mse_case(m, lambda m, x: m.Out(torch.sigmoid(m.H(x))), 4, 5, 3)
    m = Named(H=nn.Linear(5, 6), Out=nn.Linear(6, 3))
    yield "tanh", mse_case(m, lambda m, x: m.Out(torch.tanh(m.H(x))), 4, 5, 3)
    m = Named(H=nn.Linear(5, 6), H2=nn.Linear(6, 6), Out=nn.Linear(6, 3))
    yield "gelu", mse_case(m, lambda m, x: m.Out(F.gelu(m.H2(F.gelu(m.H(x))), approximate="tanh")), 4, 5, 3)
    m = Named(H=nn.Linear(5, 6), Out=nn.Linear(6, 3))
    yield "softmax", mse_case(m, lambda m, x: m.Out(torch.softmax(m.H(x), dim=-1)), 4, 5, 3)
    m = Named(A=nn.Linear(5, 6), B=nn.Linear(6, 6), Out=nn.Linear(6, 3))

    def skip(m, x):
        a = torch.tanh(m.A(x))
        return m.Out(F.relu(a) + m.B(a))
    yield "skip", mse_case(m, skip, 4, 5, 3)
    m = Named(H=nn.Linear(5, 8), Logits=nn.Linear(8, 4))
    yield "classifier", ce_case(m, lambda m, x: m.Logits(torch.tanh(m.H(x))), 4, 5, 4)

    # Losses (OpModels.cs): PyTorch's own loss modules where it has them, the published definitions otherwise.
    m = Named(Out=nn.Linear(5, 3))
    yield "l1", (m, lambda m, x: m.Out(x), torch.randn(4, 5), torch.randn(4, 3), lambda o, t: F.l1_loss(o, t))
    m = Named(Out=nn.Linear(5, 3))
    yield "huber", (m, lambda m, x: m.Out(x), torch.randn(4, 5), torch.randn(4, 3), lambda o, t: F.huber_loss(o, t, delta=0.5))
    m = Named(Out=nn.Linear(5, 3))
    yield "mse_sum", (m, lambda m, x: m.Out(x), torch.randn(4, 5), torch.randn(4, 3), lambda o, t: F.mse_loss(o, t, reduction="sum"))
    m = Named(H=nn.Linear(5, 6), Logits=nn.Linear(6, 3))
    yield "bce_logits", (m, lambda m, x: m.Logits(torch.tanh(m.H(x))), torch.randn(4, 5), torch.rand(4, 3),
                         lambda o, t: F.binary_cross_entropy_with_logits(o, t))
    m = Named(Logits=nn.Linear(5, 3))
    yield "binary_focal", (m, lambda m, x: m.Logits(x), torch.randn(4, 5), (torch.rand(4, 3) > 0.5).float(),
                           lambda o, t: sigmoid_focal_loss(o, t, alpha=0.25, gamma=2.0))
    m = Named(H=nn.Linear(5, 8), Logits=nn.Linear(8, 4))
    yield "focal", (m, lambda m, x: m.Logits(torch.tanh(m.H(x))), torch.randn(4, 5), torch.randint(0, 4, (4,)),
                    lambda o, t: softmax_focal_loss(o, t, gamma=2.0, alpha=0.5))
    m = Named(Logits=nn.Linear(5, 4))
    yield "smoothed_ce_sum", (m, lambda m, x: m.Logits(x), torch.randn(4, 5), torch.randint(0, 4, (4,)),
                              lambda o, t: F.cross_entropy(o, t, label_smoothing=0.2, reduction="sum"))
    m = Named(Logits=nn.Linear(5, 4))
    yield "soft_ce", (m, lambda m, x: m.Logits(x), torch.randn(4, 5), torch.softmax(torch.randn(4, 4), dim=-1),
                      lambda o, t: F.cross_entropy(o, t, label_smoothing=0.1))


def cnn_cases():
    """The CNN cases (tests/Kiln.Models.Tests/CnnParityModels.cs and CnnModels.cs; Z2 from samples/Cifar)."""
    # Every convolution variant, batch 2, [4, 7, 7].
    m = Named(Plain=nn.Conv2d(4, 6, 3, padding=1), Strided=nn.Conv2d(6, 6, 3, stride=2, padding=1),
              Dilated=nn.Conv2d(6, 4, 3, dilation=2, padding=2, bias=False), Grouped=nn.Conv2d(4, 6, 3, groups=2, padding=1),
              Depthwise=nn.Conv2d(6, 6, 3, groups=6, padding="same"), Tall=nn.Conv2d(6, 5, (3, 1), padding="same"),
              Pointwise=nn.Conv2d(5, 3, 1), Out=nn.Linear(48, 2))

    def conv(m, x):
        h = torch.tanh(m.Dilated(m.Strided(F.relu(m.Plain(x)))))
        h = m.Pointwise(m.Tall(F.leaky_relu(m.Depthwise(m.Grouped(h)), 0.1)))
        return m.Out(h.flatten(1))
    yield "conv_variants", (m, conv, torch.randn(2, 4, 7, 7), torch.randn(2, 2), lambda o, t: F.mse_loss(o, t))

    # Pooling, batch 3, [2, 10, 10].
    m = Named(A=nn.Conv2d(2, 3, 3, padding=1), B=nn.Conv2d(3, 4, 3, padding=1), C=nn.Conv2d(4, 4, 1), Out=nn.Linear(4, 3))

    def pool(m, x):
        h = F.max_pool2d(m.A(x), 2)
        h = F.avg_pool2d(m.B(h), 3, stride=2, padding=1)
        h = F.avg_pool2d(m.C(h), 2, stride=1, padding=1, count_include_pad=False)
        h = F.max_pool2d(h, 2, stride=2, padding=1)
        return m.Out(h.mean(dim=(2, 3)))
    yield "pooling", (m, pool, torch.randn(3, 2, 10, 10), torch.randint(0, 3, (3,)), lambda o, t: F.cross_entropy(o, t))

    # Batch norm 2d and 1d (BatchNormNet), batch 4, [3, 5, 5].
    m = Named(C1=nn.Sequential(nn.Conv2d(3, 4, 3, padding=1, bias=False), nn.BatchNorm2d(4), nn.ReLU()),
              Features=nn.BatchNorm1d(100, eps=1e-3, momentum=0.2), Out=nn.Linear(100, 3))
    yield "batchnorm", (m, lambda m, x: m.Out(m.Features(m.C1(x).flatten(1))), torch.randn(4, 3, 5, 5) * 2 + 0.5, torch.randn(4, 3),
                        lambda o, t: F.mse_loss(o, t))

    # ResNet basic blocks (ResidualNet), batch 3, [2, 4, 4]; index 5 of a body is the residual (no parameters).
    def basic_block():
        return Named(Body=nn.Sequential(nn.Conv2d(4, 4, 3, padding=1, bias=False), nn.BatchNorm2d(4), nn.ReLU(),
                                        nn.Conv2d(4, 4, 3, padding=1, bias=False), nn.BatchNorm2d(4), nn.Identity(), nn.ReLU()))
    m = Named(Stem=nn.Conv2d(2, 4, 3, padding=1), Blocks=nn.ModuleList([basic_block(), basic_block()]), Logits=nn.Linear(4, 3))

    def residual(m, x):
        h = m.Stem(x)
        for block in m.Blocks:
            h = F.relu(block.Body[:5](h) + h)
        return m.Logits(h.mean(dim=(2, 3)))
    yield "resnet_blocks", (m, residual, torch.randn(3, 2, 4, 4), torch.randint(0, 3, (3,)), lambda o, t: F.cross_entropy(o, t))

    # DenseNet layers (DenseNet), batch 2, [2, 4, 4]: 4 -> 7 -> 10 -> 13 channels.
    def dense_layer(c):
        return Named(Layer=nn.Sequential(nn.BatchNorm2d(c), nn.ReLU(), nn.Conv2d(c, 3, 3, padding=1)))
    m = Named(Stem=nn.Conv2d(2, 4, 3, padding=1), Dense=nn.ModuleList([dense_layer(4), dense_layer(7), dense_layer(10)]), Out=nn.Linear(52, 3))

    def dense(m, x):
        h = m.Stem(x)
        for layer in m.Dense:
            h = torch.cat([h, layer.Layer(h)], dim=1)
        return m.Out(F.avg_pool2d(h, 2).flatten(1))
    yield "densenet_blocks", (m, dense, torch.randn(2, 2, 4, 4), torch.randn(2, 3), lambda o, t: F.mse_loss(o, t))

    # Z2 (samples/Cifar/CifarCnn.cs), 4 rows of pixels in [0, 1).
    m = Named(Conv1=nn.Conv2d(3, 32, 3, padding=1), Conv2=nn.Conv2d(32, 32, 3, padding=1), Conv3=nn.Conv2d(32, 64, 3, padding=1),
              Conv4=nn.Conv2d(64, 64, 3, padding=1), Hidden=nn.Linear(4096, 256), Logits=nn.Linear(256, 10))

    def z2(m, x):
        h = F.max_pool2d(F.relu(m.Conv2(F.relu(m.Conv1(x)))), 2)
        h = F.max_pool2d(F.relu(m.Conv4(F.relu(m.Conv3(h)))), 2)
        return m.Logits(F.relu(m.Hidden(h.flatten(1))))
    # Its trajectory uses SGD: Adam's 1/sqrt(v) turns the float32 rounding of Z2's near-zero gradients into whole
    # steps (PyTorch float32 against float64 differ by up to 1.1e-3 in a parameter after 3 Adam steps on this case),
    # so an Adam trajectory could only be compared loosely.
    yield "z2", (m, z2, torch.rand(4, 3, 32, 32), torch.randint(0, 10, (4,)), lambda o, t: F.cross_entropy(o, t), "sgd")


def seq_ce(classes):
    """Cross-entropy over every step of a [batch, steps, classes] output against [batch, steps] labels."""
    return lambda o, t: F.cross_entropy(o.reshape(-1, classes), t.reshape(-1))


def rnn_cases():
    """The recurrent cases (tests/Kiln.Models.Tests/RnnParityModels.cs; Z3 and Z4 from samples/CharRnn), batch first.
    Module attributes carry the Kiln node names, so nn.LSTM's weight_ih_l0 ... appear as Lstm.weight_ih_l0."""
    # Embedding with a padding row, a tanh RNN over every step, a Linear at every step, cross-entropy per step.
    m = Named(Embed=nn.Embedding(9, 4, padding_idx=0), Rnn=nn.RNN(4, 6, batch_first=True), Logits=nn.Linear(6, 5))
    tokens = torch.randint(0, 9, (3, 5))
    tokens[0, 1] = 0
    yield "embedding_rnn", (m, lambda m, x: m.Logits(m.Rnn(m.Embed(x))[0]), tokens, torch.randint(0, 5, (3, 5)), seq_ce(5))

    # A 2-layer ReLU RNN without biases, its last step only (many-to-one), MSE.
    m = Named(Rnn=nn.RNN(3, 5, num_layers=2, nonlinearity="relu", bias=False, batch_first=True), Out=nn.Linear(5, 2))
    yield "rnn_relu_2layers_last", (m, lambda m, x: m.Out(m.Rnn(x)[0][:, -1]), torch.randn(3, 4, 3), torch.randn(3, 2), lambda o, t: F.mse_loss(o, t))

    # A 2-layer LSTM over every step, a Linear at every step, MSE.
    m = Named(Lstm=nn.LSTM(3, 5, num_layers=2, batch_first=True), Out=nn.Linear(5, 2))
    yield "lstm_2layers", (m, lambda m, x: m.Out(m.Lstm(x)[0]), torch.randn(2, 6, 3), torch.randn(2, 6, 2), lambda o, t: F.mse_loss(o, t))

    # A 1-layer LSTM, its last step, cross-entropy.
    m = Named(Lstm=nn.LSTM(4, 6, batch_first=True), Logits=nn.Linear(6, 3))
    yield "lstm_last", (m, lambda m, x: m.Logits(m.Lstm(x)[0][:, -1]), torch.randn(4, 5, 4), torch.randint(0, 3, (4,)), lambda o, t: F.cross_entropy(o, t))

    # A 2-layer GRU, its last step, MSE.
    m = Named(Gru=nn.GRU(3, 5, num_layers=2, batch_first=True), Out=nn.Linear(5, 2))
    yield "gru_2layers_last", (m, lambda m, x: m.Out(m.Gru(x)[0][:, -1]), torch.randn(3, 4, 3), torch.randn(3, 2), lambda o, t: F.mse_loss(o, t))

    # A 1-layer GRU without biases over every step, a Linear at every step, cross-entropy per step.
    m = Named(Gru=nn.GRU(4, 6, bias=False, batch_first=True), Logits=nn.Linear(6, 3))
    yield "gru_sequence", (m, lambda m, x: m.Logits(m.Gru(x)[0]), torch.randn(2, 5, 4), torch.randint(0, 3, (2, 5)), seq_ce(3))

    # Z3 and Z4 (samples/CharRnn), 4 rows of 64 characters, the next character at every step.
    for name, cell in (("z3", nn.LSTM), ("z4", nn.GRU)):
        layer = "Lstm" if cell is nn.LSTM else "Gru"
        m = Named(Embed=nn.Embedding(65, 64), **{layer: cell(64, 128, batch_first=True)}, Logits=nn.Linear(128, 65))
        # SGD with momentum, as Z2: Adam's 1/sqrt(v) turns the float32 rounding of the embedding's near-zero gradients
        # into whole steps (1.04e-6 apart in a weight after 3 Adam steps, at the common tolerance of 1e-6).
        yield name, (m, lambda m, x, layer=layer: m.Logits(getattr(m, layer)(m.Embed(x))[0]), torch.randint(0, 65, (4, 64)),
                     torch.randint(0, 65, (4, 64)), seq_ce(65), "sgd")


def export_truncated_bptt():
    """Truncated BPTT on Z3 and Z4: chunk 1 runs from a zero state, chunk 2 from chunk 1's final state, detached; the
    loss and gradients of chunk 2 and the state after each chunk (ParityTests replays it with CarryState)."""
    for name, cell in (("z3", nn.LSTM), ("z4", nn.GRU)):
        layer = "Lstm" if cell is nn.LSTM else "Gru"
        m = Named(Embed=nn.Embedding(65, 64), **{layer: cell(64, 128, batch_first=True)}, Logits=nn.Linear(128, 65))
        save_safetensors(os.path.join(HERE, f"{name}_tbptt.weights.safetensors"), {k: v.clone() for k, v in m.state_dict().items()})
        x1, x2 = torch.randint(0, 65, (4, 64)), torch.randint(0, 65, (4, 64))
        y1, y2 = torch.randint(0, 65, (4, 64)), torch.randint(0, 65, (4, 64))
        rnn = getattr(m, layer)
        expected = {"input1": x1.float(), "target1": y1.float(), "input2": x2.float(), "target2": y2.float()}
        out, state = rnn(m.Embed(x1))
        expected["loss1"] = seq_ce(65)(m.Logits(out), y1).detach().reshape(1)
        state = tuple(s.detach() for s in state) if isinstance(state, tuple) else state.detach()
        expected["hidden1"] = (state[0] if isinstance(state, tuple) else state).clone()
        m.zero_grad()
        out, state2 = rnn(m.Embed(x2), state)
        loss = seq_ce(65)(m.Logits(out), y2)
        loss.backward()
        expected["loss2"] = loss.detach().reshape(1)
        expected["hidden2"] = (state2[0] if isinstance(state2, tuple) else state2).detach().clone()
        if isinstance(state2, tuple):
            expected["cell1"] = state[1].clone()
            expected["cell2"] = state2[1].detach().clone()
        for k, p in m.named_parameters():
            expected[f"grad.{k}"] = p.grad.clone()
        save_safetensors(os.path.join(HERE, f"{name}_tbptt.expected.safetensors"), expected)
        print(f"{name}_tbptt    loss chunk 1 {expected['loss1'].item():.6f}, chunk 2 from its state {loss.item():.6f}")


class RMSNorm(nn.Module):
    """RMSNorm as Kiln's (and PyTorch 2.4's nn.RMSNorm): x / sqrt(mean(x^2) + eps) * weight. Debian's 1.13 has none."""

    def __init__(self, width, eps=1e-6):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(width))

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


class LearnedPositions(nn.Module):
    """A learned [length, d] table added to the first T steps (Kiln's LearnedPositions): an nn.Embedding over 0..T-1."""

    def __init__(self, length, width):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(length, width))

    def forward(self, x):
        return x + self.weight[: x.shape[1]]


class CrossAttention(nn.Module):
    """Kiln's CrossAttention layout — q_proj [D, D], kv_proj [2·D, D_memory] (keys' rows, then values'), out_proj, as
    nn.Linear modules — computed by PyTorch's own multi-head attention (F.multi_head_attention_forward with separate
    projection weights, as nn.MultiheadAttention(D, heads, kdim=D_memory, vdim=D_memory) runs it)."""

    def __init__(self, width, memory_width, heads):
        super().__init__()
        self.width, self.heads = width, heads
        self.q_proj, self.kv_proj, self.out_proj = nn.Linear(width, width), nn.Linear(memory_width, 2 * width), nn.Linear(width, width)

    def forward(self, x, memory, key_padding_mask=None):
        d = self.width
        q, kv = x.transpose(0, 1), memory.transpose(0, 1)  # sequence first
        o, _ = F.multi_head_attention_forward(
            q, kv, kv, d, self.heads, None, torch.cat([self.q_proj.bias, self.kv_proj.bias]), None, None, False, 0.0,
            self.out_proj.weight, self.out_proj.bias, training=self.training, key_padding_mask=key_padding_mask,
            need_weights=False, use_separate_proj_weight=True,
            q_proj_weight=self.q_proj.weight, k_proj_weight=self.kv_proj.weight[:d], v_proj_weight=self.kv_proj.weight[d:])
        return o.transpose(0, 1)


def sinusoidal(steps, width):
    """Vaswani's table, computed in float64 as Kiln's Positions.Sinusoidal."""
    t = torch.arange(steps, dtype=torch.float64)[:, None]
    c = torch.arange(width)
    angle = t / torch.pow(torch.tensor(10000.0, dtype=torch.float64), (c - c % 2).double() / width)
    return torch.where(c % 2 == 0, torch.sin(angle), torch.cos(angle)).float()


def causal_mask(steps):
    """nn.MultiheadAttention's boolean attn_mask: True hides a key (those after the query)."""
    return torch.triu(torch.ones(steps, steps, dtype=torch.bool), 1)


def self_attention(mha, x, causal):
    return mha(x, x, x, need_weights=False, attn_mask=causal_mask(x.shape[1]) if causal else None)[0]


def transformer_cases():
    """The Transformer cases (tests/Kiln.Models.Tests/TransformerParityModels.cs; Z5 from samples/Gpt), batch first.
    A node with several parametric attributes is an nn.ModuleList, so its modules are named Node.0, Node.1 ... as
    Kiln names them; nn.MultiheadAttention keeps its own in_proj_weight / out_proj.weight names."""
    # LayerNorm with another epsilon -> Linear -> RMSNorm -> LayerNorm without affine -> Linear, MSE at every step.
    m = Named(A=nn.LayerNorm(6, eps=1e-3), H=nn.Linear(6, 6), R=RMSNorm(6), N=nn.LayerNorm(6, elementwise_affine=False), Out=nn.Linear(6, 3))
    with torch.no_grad():  # weights away from their ones/zeros start, so their gradients are not trivially shaped
        m.A.weight.add_(0.3 * torch.randn(6)); m.A.bias.add_(0.3 * torch.randn(6)); m.R.weight.add_(0.3 * torch.randn(6))
    yield "norms", (m, lambda m, x: m.Out(m.N(m.R(m.H(m.A(x))))), torch.randn(3, 4, 6) * 2 + 1, torch.randn(3, 4, 3), lambda o, t: F.mse_loss(o, t))

    # Self-attention, 2 heads of 4, with biases, not causal -> Linear at every step, MSE.
    m = Named(Attn=nn.MultiheadAttention(8, 2, batch_first=True), Out=nn.Linear(8, 3))
    with torch.no_grad():
        m.Attn.in_proj_bias.normal_(0, 0.3); m.Attn.out_proj.bias.normal_(0, 0.3)
    # SGD with momentum for the trajectory (as Z2-Z4): the key bias's gradient is exactly zero in exact arithmetic
    # (adding q.b_k to every score of a query leaves its softmax unchanged), so both sides hold only rounding noise
    # there (~1e-9), which Adam's m/sqrt(v) would turn into steps of its own sign.
    yield "attention", (m, lambda m, x: m.Out(self_attention(m.Attn, x, False)), torch.randn(3, 5, 8), torch.randn(3, 5, 3), lambda o, t: F.mse_loss(o, t), "sgd")

    # Sinusoidal positions, then causal self-attention, 4 heads of 2, no biases -> Linear, cross-entropy at every step.
    m = Named(Attn=nn.MultiheadAttention(8, 4, bias=False, batch_first=True), Logits=nn.Linear(8, 5))
    pe = sinusoidal(6, 8)
    yield "attention_causal", (m, lambda m, x: m.Logits(self_attention(m.Attn, x + pe, True)), torch.randn(2, 6, 8), torch.randint(0, 5, (2, 6)), seq_ce(5))

    # Z5, GPT-mini (samples/Gpt), 4 rows of 64 characters, the next character at every step.
    def block():
        b = nn.Module()
        b.Attn = nn.ModuleList([nn.LayerNorm(128), nn.MultiheadAttention(128, 4, batch_first=True)])
        b.Mlp = nn.ModuleList([nn.LayerNorm(128), nn.Linear(128, 512), nn.GELU(), nn.Linear(512, 128)])
        return b

    def run_block(b, x):
        x = x + self_attention(b.Attn[1], b.Attn[0](x), True)
        return x + b.Mlp[3](b.Mlp[2](b.Mlp[1](b.Mlp[0](x))))

    def z5(m, x):
        h = m.Embedded[1](m.Embedded[0](x))
        for b in m.Blocks:
            h = run_block(b, h)
        return m.Logits[1](m.Logits[0](h))

    m = Named(Embedded=nn.ModuleList([nn.Embedding(65, 128), LearnedPositions(64, 128)]), Blocks=nn.ModuleList([block(), block()]),
              Logits=nn.ModuleList([nn.LayerNorm(128), nn.Linear(128, 65)]))
    yield "z5", (m, z5, torch.randint(0, 65, (4, 64)), torch.randint(0, 65, (4, 64)), seq_ce(65), "sgd")  # SGD: see "attention"

    # Cross-attention, 2 heads of 3: queries [3, 6] attend over a memory [5, 4] (another width) -> Linear, MSE. Two
    # inputs, given as one tensor [n, 3·6 + 5·4] (the queries' values, then the memory's) and split by both sides.
    m = Named(Cross=CrossAttention(6, 4, 2), Out=nn.Linear(6, 3))
    with torch.no_grad():
        m.Cross.q_proj.bias.normal_(0, 0.3); m.Cross.kv_proj.bias.normal_(0, 0.3); m.Cross.out_proj.bias.normal_(0, 0.3)

    def cross(m, x):
        queries, memory = x[:, :18].reshape(-1, 3, 6), x[:, 18:].reshape(-1, 5, 4)
        return m.Out(m.Cross(queries, memory))
    yield "cross_attention", (m, cross, torch.randn(4, 38), torch.randn(4, 3, 3), lambda o, t: F.mse_loss(o, t), "sgd")  # SGD: see "attention"

    # Right-padded batches (tests/Kiln.Models.Tests/TransformerParityModels.cs, PaddedSeq2Seq): token 0 pads both inputs,
    # every attention gets key_padding_mask = tokens == 0 (the decoder's self-attention also the causal mask), and the
    # padded target steps are labelled -100, which cross_entropy ignores by default. Two inputs given as one tensor
    # [n, 5 + 4] (source, then target). need_weights=True keeps nn.MultiheadAttention on its standard path in eval too.
    def padded_block():
        b = nn.Module()
        b.Self = nn.ModuleList([nn.LayerNorm(6), nn.MultiheadAttention(6, 2, batch_first=True)])
        b.Cross = nn.ModuleList([nn.LayerNorm(6), CrossAttention(6, 4, 2)])
        b.Mlp = nn.ModuleList([nn.LayerNorm(6), nn.Linear(6, 8), nn.GELU(), nn.Linear(8, 6)])
        return b

    m = Named(SourceEmbedded=nn.Embedding(7, 4), Encoded=nn.ModuleList([nn.MultiheadAttention(4, 2, batch_first=True), nn.Identity(), nn.LayerNorm(4)]),
              TargetEmbedded=nn.ModuleList([nn.Embedding(7, 6), LearnedPositions(4, 6)]), Blocks=nn.ModuleList([padded_block(), padded_block()]),
              Logits=nn.ModuleList([nn.LayerNorm(6), nn.Linear(6, 7)]))
    with torch.no_grad():
        for mha in [m.Encoded[0]] + [b.Self[1] for b in m.Blocks]:
            mha.in_proj_bias.normal_(0, 0.3); mha.out_proj.bias.normal_(0, 0.3)

    def padded(m, x):
        source, target = x[:, :5], x[:, 5:]
        source_pad, target_pad = source == 0, target == 0
        e = m.SourceEmbedded(source) + sinusoidal(5, 4)
        e = m.Encoded[2](e + m.Encoded[0](e, e, e, key_padding_mask=source_pad, need_weights=True)[0])
        h = m.TargetEmbedded[1](m.TargetEmbedded[0](target))
        for b in m.Blocks:
            a = b.Self[0](h)
            h = h + b.Self[1](a, a, a, attn_mask=causal_mask(4), key_padding_mask=target_pad, need_weights=True)[0]
            h = h + b.Cross[1](b.Cross[0](h), e, key_padding_mask=source_pad)
            h = h + b.Mlp[3](b.Mlp[2](b.Mlp[1](b.Mlp[0](h))))
        return m.Logits[1](m.Logits[0](h))

    source, target, labels = torch.randint(1, 7, (3, 5)), torch.randint(1, 7, (3, 4)), torch.randint(0, 7, (3, 4))
    for row, (s, t) in enumerate([(2, 2), (5, 4), (1, 3)]):  # lengths: every sample keeps at least one key
        source[row, s:] = 0; target[row, t:] = 0; labels[row, t:] = -100
    yield "padding", (m, padded, torch.cat([source, target], 1), labels, seq_ce(7), "sgd")  # SGD: see "attention"


def sigmoid_focal_loss(inputs, targets, alpha, gamma):
    """torchvision.ops.sigmoid_focal_loss (torchvision is not in Debian's python3-torch), mean reduction."""
    p = torch.sigmoid(inputs)
    ce = F.binary_cross_entropy_with_logits(inputs, targets, reduction="none")
    p_t = p * targets + (1 - p) * (1 - targets)
    loss = ce * ((1 - p_t) ** gamma)
    alpha_t = alpha * targets + (1 - alpha) * (1 - targets)
    return (alpha_t * loss).mean()


def softmax_focal_loss(logits, labels, gamma, alpha):
    """Multi-class focal loss (Lin et al.): -alpha (1 - p_y)^gamma log p_y, mean over rows."""
    log_p = F.log_softmax(logits, dim=-1).gather(1, labels[:, None]).squeeze(1)
    return (-alpha * (1 - log_p.exp()) ** gamma * log_p).mean()


def export(name, model, forward, x, target, loss_fn, optimizer="adam"):
    weights = {k: v.clone() for k, v in model.state_dict().items()}
    save_safetensors(os.path.join(HERE, f"{name}.weights.safetensors"), weights)
    buffers = [k for k, _ in model.named_buffers()]

    model.train()
    model.zero_grad()
    loss = loss_fn(forward(model, x), target)
    loss.backward()
    expected = {"input": x.to(torch.float32), "target": target.to(torch.float32), "loss": loss.detach().reshape(1)}
    for k, p in model.named_parameters():
        if p.numel() <= 10_000:
            expected[f"grad.{k}"] = p.grad.clone()
        else:
            expected[f"grad_every97.{k}"] = p.grad.flatten()[::97].clone()
    state = model.state_dict()
    for k in buffers:
        expected[f"buffer.{k}"] = state[k].clone()

    adam = (torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9) if optimizer == "sgd"
            else torch.optim.Adam(model.parameters(), lr=1e-3))
    trajectory = []
    for _ in range(3):
        adam.zero_grad()
        step_loss = loss_fn(forward(model, x), target)
        step_loss.backward()
        adam.step()
        trajectory.append(step_loss.item())
    with torch.no_grad():
        trajectory.append(loss_fn(forward(model, x), target).item())
    expected["trajectory"] = torch.tensor(trajectory)
    state = model.state_dict()
    for k in buffers:
        expected[f"after_buffer.{k}"] = state[k].clone()
    model.eval()
    with torch.no_grad():
        expected["eval_loss"] = loss_fn(forward(model, x), target).reshape(1)
    for k, p in model.named_parameters():
        flat = p.detach().flatten()
        if flat.numel() <= 10_000:
            expected[f"after.{k}"] = p.detach().clone()
        else:
            # Large tensors (Z1's and Z2's weights): the L2 norm and the first 64 values keep the files small.
            expected[f"after_norm.{k}"] = flat.double().norm().reshape(1)  # in float64: a float32 sum of 1M squares is off by ~1e-5
            expected[f"after_head.{k}"] = flat[:64].clone()
    save_safetensors(os.path.join(HERE, f"{name}.expected.safetensors"), expected)
    print(f"{name:12s} loss {loss.item():.6f}  after 3 {optimizer} steps {trajectory[-1]:.6f}  ({len(weights)} tensors)")


OPTIMIZERS = {
    # name: (torch constructor, its arguments) — each replayed by OptimizerParityTests with the Kiln optimizer.
    "adam": (torch.optim.Adam, dict(lr=0.01, weight_decay=0.05)),
    "adamw": (torch.optim.AdamW, dict(lr=0.01, weight_decay=0.1)),
    "sgd_momentum": (torch.optim.SGD, dict(lr=0.1, momentum=0.9, dampening=0.1, weight_decay=0.01)),
    "sgd_nesterov": (torch.optim.SGD, dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01)),
    "rmsprop": (torch.optim.RMSprop, dict(lr=0.01, weight_decay=0.01)),
    "rmsprop_centered_momentum": (torch.optim.RMSprop, dict(lr=0.01, momentum=0.9, centered=True)),
    "adagrad": (torch.optim.Adagrad, dict(lr=0.05, lr_decay=0.1, weight_decay=0.02, initial_accumulator_value=0.5)),
    "adadelta": (torch.optim.Adadelta, dict(lr=1.0, rho=0.9, weight_decay=0.05)),
}


def export_optimizers(steps=6, count=37):
    """Each optimizer over `steps` given gradients on `count` parameters: the parameters after every step."""
    p0 = torch.randn(count)
    grads = torch.randn(steps, count)
    tensors = {"p0": p0, "grads": grads}
    for name, (make, args) in OPTIMIZERS.items():
        p = nn.Parameter(p0.clone())
        optimizer = make([p], **args)
        after = []
        for t in range(steps):
            p.grad = grads[t].clone()
            optimizer.step()
            after.append(p.detach().clone())
        tensors[f"{name}.after"] = torch.stack(after)
    save_safetensors(os.path.join(HERE, "optimizers.expected.safetensors"), tensors)
    print(f"optimizers   {len(OPTIMIZERS)} configurations, {steps} steps on {count} parameters")


def export_schedules():
    """The learning rate each PyTorch scheduler gives for every update (base rate 0.1; read before optimizer.step)."""
    S = torch.optim.lr_scheduler
    schedules = {
        "step": (30, lambda o: S.StepLR(o, step_size=7, gamma=0.5)),
        "multistep": (30, lambda o: S.MultiStepLR(o, milestones=[5, 12, 20], gamma=0.3)),
        "exponential": (30, lambda o: S.ExponentialLR(o, gamma=0.9)),
        "cosine": (26, lambda o: S.CosineAnnealingLR(o, T_max=25, eta_min=0.001)),
        "restarts": (40, lambda o: S.CosineAnnealingWarmRestarts(o, T_0=5, T_mult=2, eta_min=0.001)),
        "warmup_cosine": (30, lambda o: S.SequentialLR(o, [S.LinearLR(o, start_factor=0.1, total_iters=5),
                                                           S.CosineAnnealingLR(o, T_max=25, eta_min=0.001)], milestones=[5])),
        "onecycle": (30, lambda o: S.OneCycleLR(o, max_lr=0.1, total_steps=30)),
        "chained": (30, lambda o: S.ChainedScheduler([S.ExponentialLR(o, gamma=0.95), S.StepLR(o, step_size=10, gamma=0.5)])),
    }
    tensors = {}
    import warnings
    warnings.filterwarnings("ignore")
    for name, (steps, make) in schedules.items():
        p = nn.Parameter(torch.zeros(1))
        optimizer = torch.optim.SGD([p], lr=0.1)
        scheduler = make(optimizer)
        rates = []
        for _ in range(steps):
            rates.append(optimizer.param_groups[0]["lr"])
            p.grad = torch.zeros(1)
            optimizer.step()
            scheduler.step()
        tensors[name] = torch.tensor(rates, dtype=torch.float64).to(torch.float32)
    save_safetensors(os.path.join(HERE, "schedules.expected.safetensors"), tensors)
    print(f"schedules    {len(schedules)} schedules")


if __name__ == "__main__":
    torch.manual_seed(20261121)
    torch.set_num_threads(1)
    only = set(sys.argv[1:])
    for name, case in cases():
        if not only or name in only:
            export(name, *case)
    torch.manual_seed(20261122)
    for name, case in cnn_cases():
        if not only or name in only:
            export(name, *case)
    torch.manual_seed(20261123)
    for name, case in rnn_cases():
        if not only or name in only:
            export(name, *case)
    torch.manual_seed(20261125)
    for name, case in transformer_cases():
        if not only or name in only:
            export(name, *case)
    if not only or "tbptt" in only:
        torch.manual_seed(20261124)
        export_truncated_bptt()
    if not only or "optimizers" in only:
        torch.manual_seed(7)
        export_optimizers()
    if not only or "schedules" in only:
        export_schedules()
    if not only or "z1" in only or "verify" in only:
        verify_kiln_written()
