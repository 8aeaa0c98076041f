"""SimCLR on MNIST in Keras: the reference that `bench/side_by_side.py` times against
`pretext pretrain --method simclr`.

The same work per step as pretext's defaults: the notebook encoder (Conv 64 3x3 stride 2 ReLU,
MaxPool, Conv 32 3x3 ReLU, MaxPool, flatten), or with `--resnet WIDTH,BLOCKS...` pretext's
CIFAR-style ResNet (`--encoder resnet --resnet-width WIDTH --resnet-blocks BLOCKS`: a 3x3
stem without bias, batch norm, ReLU; basic blocks whose first halves the size and doubles the
width from the second stage on, with a 1x1 projection shortcut where the shape changes; global
average pooling), the projector Dense 512, batch norm, ReLU,
Dense 128, NT-Xent at temperature 0.2, AdamW (learning rate 0.002, weight decay 1e-4),
batches of 256, and two views of each image through the same augmentation families with
pretext's ranges: a zoomed crop of 0.5..1 of the area, rotation and shear up to 10 degrees,
translation up to 10%, brightness and contrast 1 +- 0.4, Gaussian blur (sigma 0.1..1) with
probability 0.5 and erasing (2..15% of the area) with probability 0.25. Keras' layers run on
the whole batch inside the compiled step; its brightness and contrast apply to every image,
where pretext's apply with probability 0.8.

Prints one JSON line: the seconds of each epoch (the first includes tracing) and the images
per second of the last.

    python bench/keras_simclr.py MNIST_DIR [--epochs 2] [--images 60000] [--resnet 16,1,1]
"""

import gzip
import json
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import keras  # noqa: E402
import tensorflow as tf  # noqa: E402
from keras import layers  # noqa: E402

import simclr_cli  # noqa: E402

BATCH = 256
TEMPERATURE = 0.2


def load_images(mnist_dir, count):
    with gzip.open(os.path.join(mnist_dir, "train-images-idx3-ubyte.gz")) as f:
        images = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 28, 28, 1)
    return images[:count]


def augmenter():
    return keras.Sequential([
        layers.Rescaling(1 / 255),
        layers.RandomZoom(height_factor=(-(1 - 0.5 ** 0.5), 0.0)),
        layers.RandomRotation(10 / 360, fill_mode="constant"),
        layers.RandomShear(x_factor=float(np.tan(np.radians(10))), fill_mode="constant"),
        layers.RandomTranslation(0.1, 0.1, fill_mode="constant"),
        layers.RandomBrightness(0.4, value_range=(0, 1)),
        layers.RandomContrast(0.4, value_range=(0, 1)),
        layers.RandomGaussianBlur(factor=(0.5, 0.5), kernel_size=3, sigma=(0.1, 1.0), value_range=(0, 1)),
        layers.RandomErasing(factor=(0.25, 0.25), scale=(0.02, 0.15), fill_value=0.0, value_range=(0, 1)),
    ])


def notebook_encoder(x):
    x = layers.Conv2D(64, 3, strides=2, padding="same", activation="relu")(x)
    x = layers.MaxPooling2D()(x)
    x = layers.Conv2D(32, 3, padding="same", activation="relu")(x)
    x = layers.MaxPooling2D()(x)
    return layers.Flatten()(x)


def conv_bn(x, width, kernel, stride):
    x = layers.Conv2D(width, kernel, strides=stride, padding="same", use_bias=False)(x)
    return layers.BatchNormalization(epsilon=1e-5, momentum=0.9)(x)


def resnet_encoder(x, width, blocks):
    x = layers.ReLU()(conv_bn(x, width, 3, 1))
    for stage, count in enumerate(blocks):
        channels = width << stage
        for b in range(count):
            stride = 2 if stage > 0 and b == 0 else 1
            shortcut = conv_bn(x, channels, 1, stride) if stride != 1 or x.shape[-1] != channels else x
            y = layers.ReLU()(conv_bn(x, channels, 3, stride))
            x = layers.ReLU()(layers.Add()([conv_bn(y, channels, 3, 1), shortcut]))
    return layers.GlobalAveragePooling2D()(x)


def encoder_and_projector(resnet):
    images = keras.Input((28, 28, 1))
    features = resnet_encoder(images, resnet[0], resnet[1:]) if resnet else notebook_encoder(images)
    x = layers.ReLU()(layers.BatchNormalization()(layers.Dense(512)(features)))
    return keras.Model(images, layers.Dense(128)(x))


def nt_xent(z1, z2):
    z = tf.math.l2_normalize(tf.concat([z1, z2], 0), axis=1)
    n = tf.shape(z1)[0]
    logits = tf.matmul(z, z, transpose_b=True) / TEMPERATURE - 1e9 * tf.eye(2 * n)
    positives = tf.concat([tf.range(n, 2 * n), tf.range(0, n)], 0)
    return tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(positives, logits))


class SimClr(keras.Model):
    def __init__(self, resnet):
        super().__init__()
        self.augment = augmenter()
        self.network = encoder_and_projector(resnet)

    def train_step(self, images):
        views = [self.augment(images, training=True) for _ in range(2)]
        with tf.GradientTape() as tape:
            loss = nt_xent(*(self.network(v, training=True) for v in views))
        weights = self.network.trainable_weights
        self.optimizer.apply_gradients(zip(tape.gradient(loss, weights), weights))
        return {"loss": loss}


class EpochTimes(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.seconds = []

    def on_epoch_begin(self, epoch, logs=None):
        self.start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(time.perf_counter() - self.start)


def main():
    parser = simclr_cli.parser(__doc__)
    args = parser.parse_args()
    resnet = simclr_cli.resnet_shape(args)
    images = load_images(args.mnist_dir, args.images).astype("float32")
    data = tf.data.Dataset.from_tensor_slices(images).shuffle(len(images)).batch(BATCH, drop_remainder=True).prefetch(2)
    model = SimClr(resnet)
    model.compile(optimizer=keras.optimizers.AdamW(learning_rate=0.002, weight_decay=1e-4))
    times = EpochTimes()
    model.fit(data, epochs=args.epochs, verbose=0, callbacks=[times])
    used = len(images) // BATCH * BATCH
    print(json.dumps({"epoch_s": times.seconds, "images_per_s": used / times.seconds[-1]}))


if __name__ == "__main__":
    main()
