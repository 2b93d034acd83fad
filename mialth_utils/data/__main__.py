"""``python -m mialth_utils.data [--download [NAME]] [--no-apt]``: make a data set available offline.

Without a name: Fashion-MNIST (the default study's). ``--download cifar10`` / ``cifar100`` / ``mnist``
fetches that data set through torchvision into ``$MIALTH_DATA``; the kit never downloads at run time.
"""
import argparse
import logging

from ..log import setup as setup_logging
from ..paths import data_root
from .files import ensure_fashion_mnist
from .registry import load_dataset

parser = argparse.ArgumentParser(description="Make a data set available offline (default: Fashion-MNIST).")
parser.add_argument("--download", nargs="?", const="fashion-mnist", default=None, metavar="NAME",
                    help="allow a download through torchvision: fashion-mnist (default), mnist, cifar10, cifar100")
parser.add_argument("--no-apt", action="store_true", help="do not try apt-get install dataset-fashion-mnist")
args = parser.parse_args()
setup_logging()
log = logging.getLogger("mialth_utils.data")
name = args.download or "fashion-mnist"
if name in ("fashion-mnist", "fashionmnist", "fmnist"):
    log.info("Fashion-MNIST: %s", ensure_fashion_mnist(allow_apt=not args.no_apt, download=args.download is not None))
else:
    try:
        data = load_dataset(name, download=True)
    except OSError as err:  # urllib's URLError is one: no network here
        raise SystemExit(f"{name}: the download failed ({err}). Run this on a machine with network and copy "
                         f"what it writes under {data_root()} to this machine's $MIALTH_DATA.") from None
    log.info("%s: %d training and %d test examples under %s", name, len(data.train_y), len(data.test_y), data_root())
