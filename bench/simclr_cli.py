"""The command line both SimCLR references take (`bench/keras_simclr.py`, `bench/torch_simclr.py`)."""

import argparse


def parser(doc):
    """The arguments both take; a reference adds its own."""
    parser = argparse.ArgumentParser(description=doc)
    parser.add_argument("mnist_dir")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--images", type=int, default=60_000)
    parser.add_argument("--resnet", help="WIDTH,BLOCKS...: pretext's ResNet instead of the notebook encoder")
    return parser


def resnet_shape(args):
    """`--resnet` as [width, blocks...], or None for the notebook encoder."""
    return [int(v) for v in args.resnet.split(",")] if args.resnet else None
