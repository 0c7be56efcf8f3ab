"""Training functions built on Lightning and on Hugging Face's Trainer, as users write them: the
library's own trainer inside ``fit(p, report)`` with tunewidgets' callback added. Tiny models from a
config (nothing is downloaded), seeded, so tests train them in seconds.
"""

import logging
import tempfile
import warnings

import torch
from torch import nn
from torch.nn import functional as F
from torch.utils.data import DataLoader, Dataset, TensorDataset

from sklearn.datasets import load_digits

from helpers.fits import VOCAB, token_corpus

QUIET_LOGGERS = ("lightning", "lightning.pytorch", "pytorch_lightning", "lightning.fabric", "transformers")


def quiet():
    """The libraries' banners and hints (GPU available, few dataloader workers) off the test output."""
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", ".*does not have many workers.*")
    warnings.filterwarnings("ignore", ".*LeafSpec.*")


# ---- Lightning: a classifier of the 8x8 digits ------------------------------------------------------
def digits_loaders(batch_size):
    x, y = load_digits(return_X_y=True)
    x, y = torch.tensor(x / 16.0, dtype=torch.float32), torch.tensor(y)
    x_train, y_train, x_val, y_val = x[:1400], y[:1400], x[1400:], y[1400:]
    train = DataLoader(TensorDataset(x_train, y_train), batch_size=batch_size, shuffle=True,
                       generator=torch.Generator().manual_seed(0))
    return train, DataLoader(TensorDataset(x_val, y_val), batch_size=500)


def lightning_module(package, p):
    """A LightningModule of ``package`` (``lightning.pytorch`` or ``pytorch_lightning``)."""

    class DigitsClassifier(package.LightningModule):
        def __init__(self):
            super().__init__()
            self.net = nn.Sequential(nn.Linear(64, p.hidden), nn.ReLU(), nn.Dropout(p.dropout), nn.Linear(p.hidden, 10))

        def training_step(self, batch, batch_idx):
            x, y = batch
            loss = F.cross_entropy(self.net(x), y)
            self.log("train_loss", loss, on_step=False, on_epoch=True)
            return loss

        def validation_step(self, batch, batch_idx):
            x, y = batch
            logits = self.net(x)
            self.log("val_loss", F.cross_entropy(logits, y))
            self.log("val_accuracy", (logits.argmax(1) == y).float().mean())
            self.log("optimizer_lr", self.trainer.optimizers[0].param_groups[0]["lr"])  # what it steps with

        def configure_optimizers(self):
            optimizer = torch.optim.SGD(self.parameters(), lr=p.lr, momentum=0.9, weight_decay=p.get("weight_decay", 0.0))
            return {"optimizer": optimizer, "lr_scheduler": torch.optim.lr_scheduler.ExponentialLR(optimizer, 0.97)}

    return DigitsClassifier()


def fit_lightning(p, report, package_name="lightning.pytorch"):
    import importlib

    from tunewidgets.integrations.lightning import TuneCallback

    quiet()
    package = importlib.import_module(package_name)
    package.seed_everything(p.get("seed", 0), verbose=False)
    train, val = digits_loaders(p.batch_size)
    trainer = package.Trainer(max_epochs=p.epochs, accelerator="cpu", devices=1, logger=False,
                              val_check_interval=p.get("val_check_interval", 1.0),
                              enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                              callbacks=[TuneCallback(report)])
    trainer.fit(lightning_module(package, p), train, val)


def fit_pytorch_lightning(p, report):
    fit_lightning(p, report, "pytorch_lightning")


LIGHTNING = {"lr": 0.05, "hidden": 32, "dropout": 0.1, "batch_size": 64, "epochs": 6}


# ---- Hugging Face: a two-layer transformer classifier of token ids ---------------------------------
PAD = VOCAB  # the padding token's id, one past the corpus's own


class TokenDocuments(Dataset):
    """The token corpus of ``tests.fits`` as Hugging Face models take it: padded ids, a mask, labels."""

    def __init__(self, docs, length=14):
        self.docs, self.length = docs, length

    def __len__(self):
        return len(self.docs)

    def __getitem__(self, i):
        tokens, label = self.docs[i]
        ids = torch.full((self.length,), PAD)
        ids[: len(tokens)] = tokens
        return {"input_ids": ids, "attention_mask": (ids != PAD).long(), "labels": torch.tensor(label)}


def tiny_transformer(p):
    from transformers import BertConfig, BertForSequenceClassification

    config = BertConfig(vocab_size=VOCAB + 1, hidden_size=p.hidden, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=2 * p.hidden, max_position_embeddings=16, num_labels=2,
                        hidden_dropout_prob=p.dropout, attention_probs_dropout_prob=0.0, pad_token_id=PAD)
    return BertForSequenceClassification(config)


def accuracy(prediction):
    return {"accuracy": float((prediction.predictions.argmax(-1) == prediction.label_ids).mean())}


def fit_transformer(p, report):
    from transformers import PrinterCallback, Trainer, TrainingArguments, set_seed

    from tunewidgets.integrations.transformers import TuneCallback

    quiet()
    set_seed(p.get("seed", 0))
    train, val = token_corpus()
    with tempfile.TemporaryDirectory() as out:
        args = TrainingArguments(output_dir=out, num_train_epochs=p.epochs, learning_rate=p.lr,
                                 per_device_train_batch_size=p.batch_size, per_device_eval_batch_size=150,
                                 weight_decay=p.get("weight_decay", 0.0),
                                 eval_strategy=p.get("eval_strategy", "epoch"), logging_strategy="epoch", save_strategy="no", report_to="none", use_cpu=True,
                                 disable_tqdm=True, seed=p.get("seed", 0))
        trainer = Trainer(model=tiny_transformer(p), args=args, train_dataset=TokenDocuments(train),
                          eval_dataset=TokenDocuments(val), compute_metrics=accuracy, callbacks=[TuneCallback(report)])
        trainer.remove_callback(PrinterCallback)  # its printed logs: the panel shows them
        trainer.train()
    return trainer.model


TRANSFORMER = {"lr": 3e-3, "hidden": 32, "dropout": 0.1, "batch_size": 32, "epochs": 5}
