"""The teaching notebook's RotNet pipeline in Keras, as the notebook runs it, for timing.

Differences from the notebook, none of which touch the timed work: MNIST is read from the
local IDX files (the notebook downloads it with keras.datasets.mnist.load_data), the plots
are left out, the downstream phase gets a fresh SGD with the same settings (Keras 3 refuses
to reuse the pretext one), the test accuracy on the 300 test images is printed, and the two training
phases are timed. Prints one JSON line: {"pretext_s": ..., "downstream_s": ..., ...}.

usage: keras_notebook.py DATA_DIR [SEED]
"""

import gzip
import json
import sys
import time

import numpy as np
import tensorflow as tf
from tensorflow import keras
from tensorflow.keras import Sequential
from tensorflow.keras.layers import Conv2D, Dense, Flatten, MaxPooling2D


def idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    dims = data[3]
    shape = [int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def main():
    data_dir = sys.argv[1]
    keras.utils.set_random_seed(int(sys.argv[2]) if len(sys.argv) > 2 else 0)
    X_train = idx(f"{data_dir}/train-images-idx3-ubyte.gz")[:1000]
    Y_train = idx(f"{data_dir}/train-labels-idx1-ubyte.gz")[:1000]
    X_test = idx(f"{data_dir}/t10k-images-idx3-ubyte.gz")[:300]
    Y_test = idx(f"{data_dir}/t10k-labels-idx1-ubyte.gz")[:300]

    n_samples = X_train.shape[0]
    X_rotate = np.zeros(shape=(n_samples * 4, X_train.shape[1], X_train.shape[2]))
    Y_rotate = np.zeros(shape=(n_samples * 4, 4))
    for i in range(n_samples):
        img = X_train[i]
        X_rotate[4 * i - 4] = img
        Y_rotate[4 * i - 4] = [1, 0, 0, 0]
        X_rotate[4 * i - 3] = np.flip(img.T, 0)
        Y_rotate[4 * i - 3] = [0, 1, 0, 0]
        X_rotate[4 * i - 2] = np.flip(np.flip(img, 0), 1)
        Y_rotate[4 * i - 2] = [0, 0, 1, 0]
        X_rotate[4 * i - 1] = np.flip(img, 0).T
        Y_rotate[4 * i - 1] = [0, 0, 0, 1]
    X_rotate = X_rotate.reshape(-1, 28, 28, 1)

    layer1 = Conv2D(64, kernel_size=(3, 3), strides=(2, 2), padding="same", activation="relu", kernel_initializer="random_normal")
    layer2 = MaxPooling2D(pool_size=(2, 2), strides=(2, 2))
    layer3 = Conv2D(32, kernel_size=(3, 3), strides=(1, 1), padding="same", activation="relu", kernel_initializer="random_normal")
    layer4 = MaxPooling2D(pool_size=(2, 2), strides=(2, 2))
    layer5 = Conv2D(16, kernel_size=(3, 3), strides=(2, 2), padding="same", activation="relu", kernel_initializer="random_normal")
    layer6 = Flatten()
    layer7 = Dense(4, activation="softmax", kernel_initializer="random_normal")
    model_pre = Sequential([keras.Input(shape=(28, 28, 1)), layer1, layer2, layer3, layer4, layer5, layer6, layer7])
    model_pre.summary()

    sgd = keras.optimizers.SGD(learning_rate=0.001, momentum=0.9)
    model_pre.compile(loss="categorical_crossentropy", optimizer=sgd, metrics=["accuracy"])
    start = time.perf_counter()
    hist = model_pre.fit(X_rotate, Y_rotate, batch_size=192, epochs=50, verbose=2, shuffle=False)
    pretext_s = time.perf_counter() - start

    model_pre.trainable = False
    X_train = X_train.reshape(-1, 28, 28, 1)
    X_test = X_test.reshape(-1, 28, 28, 1)
    Y_train = tf.one_hot(Y_train, 10, on_value=1.0, off_value=0.0)
    Y_test = tf.one_hot(Y_test, 10, on_value=1.0, off_value=0.0)

    layer9 = Flatten()
    layer10 = Dense(10, activation="softmax", kernel_initializer="random_normal")
    model_down = keras.Sequential([keras.Input(shape=(28, 28, 1)), layer1, layer2, layer3, layer4, layer9, layer10])
    model_down.summary()
    callback = tf.keras.callbacks.EarlyStopping(monitor="accuracy", patience=7)
    # Keras 3 refuses to reuse the pretext optimizer for new variables; same settings, fresh state.
    sgd = keras.optimizers.SGD(learning_rate=0.001, momentum=0.9)
    model_down.compile(loss="categorical_crossentropy", optimizer=sgd, metrics=["accuracy"])
    start = time.perf_counter()
    hist_down = model_down.fit(X_train, Y_train, batch_size=64, validation_split=0.3, epochs=50, verbose=2, callbacks=callback)
    prediction = np.round(model_down.predict(X_train))
    downstream_s = time.perf_counter() - start

    _, test_accuracy = model_down.evaluate(X_test, Y_test, verbose=0)
    print(json.dumps({
        "pretext_s": pretext_s,
        "downstream_s": downstream_s,
        "pretext_accuracy": hist.history["accuracy"][-1],
        "downstream_epochs": len(hist_down.history["accuracy"]),
        "test_accuracy_300": test_accuracy,
        "predicted_rows": int(prediction.shape[0]),
    }))


if __name__ == "__main__":
    main()
