"""Backends run one direction of one layer over time: forward and backprop through time.

Each backend offers ``direction_forward`` and ``direction_backward`` with the same
contract; the network above them never touches a time loop.
"""
