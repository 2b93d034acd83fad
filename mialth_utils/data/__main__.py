"""``python -m mialth_utils.data [--download] [--no-apt]``: make Fashion-MNIST available offline."""
import argparse

from .files import ensure_fashion_mnist

parser = argparse.ArgumentParser(description="Make the default data set (Fashion-MNIST) available offline.")
parser.add_argument("--download", action="store_true", help="allow a download through torchvision")
parser.add_argument("--no-apt", action="store_true", help="do not try apt-get install dataset-fashion-mnist")
args = parser.parse_args()
print("Fashion-MNIST:", ensure_fashion_mnist(allow_apt=not args.no_apt, download=args.download))
