"""Data: FER2013, folders of your own faces, the synthetic faces, faces in photos, HOG.

Every loader returns the same dict: X_train, y_train, X_val, y_val[, X_test, y_test] (X
uint8 (N, 48, 48), y int64) and class_names. ``preprocess`` turns it into a network's
input (float, (N, 1, 48, 48), mean image subtracted).
"""
from fercnn.data.faces import crop_face, detect_faces, find_faces, read_image, to_gray
from fercnn.data.fer2013 import CLASS_NAMES, SIDE, is_fer2013, load_fer2013, summarize
from fercnn.data.folders import load_image_folder
from fercnn.data.hog import hog_features, hog_features_for
from fercnn.data.preprocess import flip_double, prepare_input, preprocess
from fercnn.data.synthetic import make_synthetic_faces

__all__ = ["CLASS_NAMES", "SIDE", "load_fer2013", "is_fer2013", "summarize", "load_image_folder",
           "make_synthetic_faces", "preprocess", "prepare_input", "flip_double", "read_image", "to_gray",
           "detect_faces", "find_faces", "crop_face", "hog_features", "hog_features_for"]
