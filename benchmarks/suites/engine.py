"""Forward, forward + BPTT and a train step of the network at the reference sizes."""

# The module, not its names: asv takes any class in this module with a method named time_*
# (RecurrentNetwork.time_major_targets) for a benchmark.
import numbarnn

from .common import CELLS, SIZES, batch


class Network:
    params = (list(CELLS), list(SIZES))
    param_names = ["cell", "size"]
    timeout = 600

    def setup(self, cell, size):
        _, _, D, H = SIZES[size]
        self.net = numbarnn.RecurrentNetwork(CELLS[cell], D, H)
        self.params = self.net.init_params(0)
        self.X, self.y = batch(size)
        self.optimizer = numbarnn.Adam()
        self.memory = self.net.reusing_memory()  # as fit does: steps reuse their arrays
        self.memory.__enter__()
        self.time_train_step(cell, size)  # compiles (or loads from the cache) outside the timing

    def teardown(self, cell, size):
        self.memory.__exit__(None, None, None)

    def time_forward(self, cell, size):
        self.net.predict(self.params, self.X)

    def time_forward_backward(self, cell, size):
        self.net.loss_and_grad(self.params, self.X, self.y)

    def time_train_step(self, cell, size):
        grad = self.net.loss_and_grad(self.params, self.X, self.y)[1]
        self.optimizer.step(self.params, grad)

    def peakmem_train_step(self, cell, size):
        self.time_train_step(cell, size)
