"""The demo's PyTorch rows: the same cells, sizes, heads, losses, optimizer, clipping and
budget in a plain PyTorch loop. Imported by the demo only when torch is installed; numbarnn
never needs it."""

import time

import numpy as np


def fit_twin(torch, task, settings, regression_scores, language_scores):
    """Fit ``nn.RNN``, ``nn.LSTM`` and ``nn.GRU`` on a demo task.

    Returns
    -------
    dict
        Cell name to (parameters, epochs, seconds, final loss, test scores).
    """
    data = _Data(torch, task)
    rows = {}
    for name, module in (("RNN", torch.nn.RNN), ("LSTM", torch.nn.LSTM), ("GRU", torch.nn.GRU)):
        torch.manual_seed(settings.seed)
        embedding = (torch.nn.Embedding(data.vocab, settings.hidden_size)
                     if data.vocab else None)
        rnn = module(settings.hidden_size if embedding else data.X.shape[2],
                     settings.hidden_size, batch_first=True)
        head = torch.nn.Linear(settings.hidden_size, data.n_out)
        modules = [m for m in (embedding, rnn, head) if m is not None]
        params = [p for m in modules for p in m.parameters()]
        optimizer = torch.optim.Adam(params, lr=settings.learning_rate)
        generator = torch.Generator().manual_seed(settings.seed)

        def outputs(X, embedding=embedding, rnn=rnn, head=head):
            out, h = rnn(embedding(X) if embedding is not None else X)
            if data.per_step:
                return head(out)
            return head((h[0] if isinstance(h, tuple) else h)[-1])

        start, epochs, loss_value = time.perf_counter(), 0, None
        for epochs in range(1, task.epochs + 1):  # noqa: B007 (the count is read after)
            total = 0.0
            for idx in torch.randperm(len(data.X), generator=generator).split(
                    settings.batch_size):
                optimizer.zero_grad()
                loss = data.loss(outputs(data.X[idx]), idx)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(params, 1.0)
                optimizer.step()
                total += loss.item() * len(idx)
            loss_value = total / len(data.X)
            if settings.seconds is not None and time.perf_counter() - start > settings.seconds:
                break
        seconds = time.perf_counter() - start
        with torch.no_grad():
            scores = data.scores(outputs(data.X_test), regression_scores, language_scores)
        rows[name] = (sum(p.numel() for p in params), epochs, seconds, loss_value, scores)
    return rows


class _Data:
    """A task's data as tensors, with its loss and its test scores."""

    def __init__(self, torch, task):
        self.torch, self.task = torch, task
        self.per_step = task.kind == "language"
        self.vocab = None
        if task.kind == "language":
            self.vocab = int(max(max(x.max() for x in task.X_train),
                                 max(x.max() for x in task.X_test))) + 1
            self.X, self.mask = self._padded(task.X_train)
            self.y, _ = self._padded(task.y_train)
            self.X_test, self.test_mask = self._padded(task.X_test)
            self.n_out = self.vocab
        else:
            self.X = torch.tensor(task.X_train, dtype=torch.float32)
            self.X_test = torch.tensor(task.X_test, dtype=torch.float32)
        if task.kind == "regression":
            self.y, self.n_out = torch.tensor(task.y_train, dtype=torch.float32)[:, None], 1
        elif task.kind == "classification":
            self.classes = np.unique(task.y_train)
            index = np.searchsorted(self.classes, task.y_train)
            self.n_out = 1 if len(self.classes) == 2 else len(self.classes)
            self.y = torch.tensor(index, dtype=torch.float32 if self.n_out == 1 else torch.long)

    def _padded(self, sequences):
        lengths = [len(s) for s in sequences]
        out = np.zeros((len(sequences), max(lengths)), np.int64)
        for i, s in enumerate(sequences):
            out[i, : len(s)] = s
        mask = np.arange(out.shape[1])[None, :] < np.array(lengths)[:, None]
        return self.torch.tensor(out), self.torch.tensor(mask)

    def loss(self, output, idx):
        """The batch's mean loss, as numbarnn's for the same task."""
        nn = self.torch.nn
        if self.task.kind == "regression":
            return nn.functional.mse_loss(output, self.y[idx])
        if self.task.kind == "classification":
            if self.n_out == 1:
                return nn.functional.binary_cross_entropy_with_logits(output[:, 0], self.y[idx])
            return nn.functional.cross_entropy(output, self.y[idx])
        mask = self.mask[idx]
        return nn.functional.cross_entropy(output[mask], self.y[idx][mask])

    def scores(self, output, regression_scores, language_scores):
        if self.task.kind == "regression":
            return regression_scores(self.task, output[:, 0].numpy())
        if self.task.kind == "classification":
            index = ((output[:, 0] > 0).long() if self.n_out == 1 else output.argmax(1)).numpy()
            return {"accuracy": float(np.mean(self.classes[index] == self.task.y_test))}
        log_proba = self.torch.log_softmax(output, dim=2).double().numpy()
        log_proba[~self.test_mask.numpy()] = np.nan
        return language_scores(self.task, log_proba)
