"""`scheduler run`: the lease (``leader``), the leader's tick (``dispatcher``)
and the loop around them (``runloop``).
"""
