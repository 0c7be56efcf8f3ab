"""Three ordinary training functions a user brings, ``fit(p, report)``, each of a kind the built-in
trainer cannot train: a text classifier over token ids of varying length, a variational autoencoder
with a loss of its own, and a multi-label classifier. Small and seeded so tests train them in seconds.
"""

import numpy as np
import torch
from sklearn.datasets import load_digits
from torch import nn
from torch.utils.data import DataLoader

VOCAB = 60


def token_corpus(n=600, seed=0):
    """Documents of 4-14 token ids; class 1 documents draw most tokens from the upper half of the
    vocabulary, class 0 from the lower half."""
    rng = np.random.default_rng(seed)
    docs = []
    for _ in range(n):
        label = int(rng.integers(2))
        length = int(rng.integers(4, 15))
        home = rng.integers(VOCAB // 2, VOCAB, length) if label else rng.integers(0, VOCAB // 2, length)
        noise = rng.integers(0, VOCAB, length)
        tokens = np.where(rng.random(length) < 0.7, home, noise)
        docs.append((torch.tensor(tokens, dtype=torch.long), label))
    return docs[: n * 3 // 4], docs[n * 3 // 4:]


def collate_bag(batch):
    """Token ids of every document in one flat tensor, with each document's offset (EmbeddingBag)."""
    texts = [tokens for tokens, _ in batch]
    offsets = torch.tensor([0] + [len(t) for t in texts[:-1]]).cumsum(0)
    return torch.cat(texts), offsets, torch.tensor([label for _, label in batch])


class BagClassifier(nn.Module):
    def __init__(self, dim, dropout):
        super().__init__()
        self.bag = nn.EmbeddingBag(VOCAB, dim)
        self.drop = nn.Dropout(dropout)
        self.out = nn.Linear(dim, 2)

    def forward(self, tokens, offsets):
        return self.out(self.drop(self.bag(tokens, offsets)))


def fit_text(p, report):
    """A text classifier over token ids: EmbeddingBag, a collate_fn, cross-entropy."""
    torch.manual_seed(p.get("seed", 0))
    train, val = token_corpus()
    loader = DataLoader(train, batch_size=p.batch_size, shuffle=True, collate_fn=collate_bag,
                        generator=torch.Generator().manual_seed(0))
    val_tokens, val_offsets, val_labels = collate_bag(val)
    model = BagClassifier(p.dim, p.dropout)
    opt = torch.optim.SGD(model.parameters(), lr=p.lr, momentum=0.9)
    report.watch(opt, model)
    for _ in range(p.epochs):
        model.train()
        total = 0.0
        for tokens, offsets, labels in loader:
            loss = nn.functional.cross_entropy(model(tokens, offsets), labels)
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item() * len(labels)
            report.batch(loss=loss.item())
        model.eval()
        with torch.no_grad():
            logits = model(val_tokens, val_offsets)
        report.epoch(loss=total / len(train), val_loss=nn.functional.cross_entropy(logits, val_labels),
                     val_accuracy=(logits.argmax(1) == val_labels).float().mean(),
                     optimizer_lr=opt.param_groups[0]["lr"], dropout_in_model=model.drop.p)
    return model


def digits_tensors():
    x, _ = load_digits(return_X_y=True)
    x = torch.tensor(x / 16.0, dtype=torch.float32)
    return x[:1400], x[1400:]


class VAE(nn.Module):
    def __init__(self, latent):
        super().__init__()
        self.encode = nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 2 * latent))
        self.decode = nn.Sequential(nn.Linear(latent, 64), nn.ReLU(), nn.Linear(64, 64))

    def forward(self, x):
        mean, log_var = self.encode(x).chunk(2, dim=1)
        z = mean + torch.randn_like(mean) * (0.5 * log_var).exp()
        return self.decode(z), mean, log_var


def vae_loss(model, x, kl_weight):
    recon, mean, log_var = model(x)
    reconstruction = nn.functional.mse_loss(recon, x, reduction="sum") / len(x)
    kl = -0.5 * (1 + log_var - mean ** 2 - log_var.exp()).sum() / len(x)
    return reconstruction + kl_weight * kl, reconstruction


def fit_vae(p, report):
    """A variational autoencoder on the digits: its loss is reconstruction + kl_weight x KL."""
    torch.manual_seed(0)
    train, val = digits_tensors()
    model = VAE(p.latent)
    opt = torch.optim.Adam(model.parameters(), lr=p.lr)
    report.watch(opt, model)
    for _ in range(p.epochs):
        model.train()
        for batch in train.split(p.batch_size):
            loss, _ = vae_loss(model, batch, p.kl_weight)
            opt.zero_grad()
            loss.backward()
            opt.step()
            report.batch(loss=loss)
        model.eval()
        with torch.no_grad():
            val_loss, reconstruction = vae_loss(model, val, p.kl_weight)
        report.epoch(val_loss=val_loss, val_reconstruction=reconstruction)
    return model


def multilabel_data(seed=0):
    """20 features; three labels per sample, each a different linear rule (any number of them on)."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(1000, 20, generator=g)
    rules = torch.randn(20, 3, generator=g)
    y = (x @ rules > 0.3).float()
    return (x[:800], y[:800]), (x[800:], y[800:])


def fit_multilabel(p, report):
    """A multi-label classifier trained with BCEWithLogitsLoss; reports the exact-match accuracy."""
    torch.manual_seed(0)
    (x, y), (xv, yv) = multilabel_data()
    model = nn.Sequential(nn.Linear(20, p.hidden), nn.ReLU(), nn.Dropout(p.dropout), nn.Linear(p.hidden, 3))
    opt = torch.optim.AdamW(model.parameters(), lr=p.lr, weight_decay=p.weight_decay)
    schedule = torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.9)
    report.watch(opt, schedule, model)
    loss_fn = nn.BCEWithLogitsLoss()
    for _ in range(p.epochs):
        model.train()
        for i in range(0, len(x), p.batch_size):
            loss = loss_fn(model(x[i:i + p.batch_size]), y[i:i + p.batch_size])
            opt.zero_grad()
            loss.backward()
            opt.step()
            report.batch(loss=loss)
        schedule.step()
        model.eval()
        with torch.no_grad():
            logits = model(xv)
        report.epoch(val_loss=loss_fn(logits, yv), val_accuracy=((logits > 0) == yv.bool()).all(1).float().mean(),
                     optimizer_lr=opt.param_groups[0]["lr"])
    return model


TEXT = {"lr": 0.1, "dim": 16, "dropout": 0.1, "batch_size": 32, "epochs": 6}
VAE_PARAMS = {"lr": 3e-3, "latent": 4, "kl_weight": 0.5, "batch_size": 100, "epochs": 6}
MULTILABEL = {"lr": 1e-2, "hidden": 32, "dropout": 0.1, "weight_decay": 1e-4, "batch_size": 50, "epochs": 8}
