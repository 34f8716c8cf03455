"""Reference values from CPython's random module for test_random.cpp.

Each argument is one case, "SEED:OP:COUNT:ARGS" (ARGS comma-separated, may be
empty).  For every case one line is printed: the values, space-separated.
Integers print in decimal; floats print as the decimal value of their IEEE-754
bit pattern so that the C++ side can compare them bit for bit.
"""
import random
import struct
import sys


def bits(x):
    return struct.unpack("<Q", struct.pack("<d", x))[0]


def run(rng, op, count, args):
    out = []
    if op == "random":
        out = [bits(rng.random()) for _ in range(count)]
    elif op == "getrandbits":
        out = [rng.getrandbits(args[0]) for _ in range(count)]
    elif op == "randrange":
        out = [rng.randrange(*args) for _ in range(count)]
    elif op == "randint":
        out = [rng.randint(*args) for _ in range(count)]
    elif op == "uniform":
        a, b = (float.fromhex(x) for x in args)
        out = [bits(rng.uniform(a, b)) for _ in range(count)]
    elif op == "choice":
        seq = [i * i for i in range(args[0])]
        out = [rng.choice(seq) for _ in range(count)]
    elif op == "shuffle":  # COUNT successive shuffles of one list, all printed
        seq = list(range(args[0]))
        for _ in range(count):
            rng.shuffle(seq)
            out.extend(seq)
    elif op == "mix":  # interleaved calls: the state must carry over exactly
        for i in range(count):
            out.append(bits(rng.random()))
            out.append(rng.getrandbits(i % 65))
            out.append(rng.randrange(i + 1))
            out.append(rng.randint(-i, i))
            out.append(rng.randrange(-(2**63), 2**63 - 1, i + 1))
            out.append(bits(rng.uniform(-1.5, 2.5)))
            out.append(rng.choice(range(i % 7 + 1)))
    else:
        raise SystemExit("unknown op " + op)
    return out


def main():
    for case in sys.argv[1:]:
        seed, op, count, args = case.split(":")
        rng = random.Random(int(seed))
        if op == "uniform":
            parsed = args.split(",")
        else:
            parsed = [int(a) for a in args.split(",") if a]
        print(" ".join(str(v) for v in run(rng, op, int(count), parsed)))


if __name__ == "__main__":
    main()
