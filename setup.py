from setuptools import find_packages, setup

setup(
    name="fercnn",
    version="0.1.0",
    description="From-scratch NumPy + Numba CNNs for facial expression recognition (FER2013)",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    packages=find_packages(include=["fercnn", "fercnn.*"]),
    package_data={"fercnn.models": ["weights/*.npz"],  # the shipped trained networks (pretrained)
                  "fercnn.serve": ["static/*"]},  # the page of `fercnn serve`
    python_requires=">=3.10",
    install_requires=["numpy>=1.24", "numba>=0.58", "scikit-image>=0.21", "matplotlib>=3.7", "tqdm>=4.60",
                      "threadpoolctl>=3.1", "pillow>=9"],
    extras_require={
        "serve": ["starlette>=0.40", "uvicorn>=0.30", "python-multipart>=0.0.18"],  # fercnn serve
        "video": ["av>=12"],  # fercnn predict clip.mp4: PyAV, FFmpeg's decoders and encoders in its wheel
        # the tests of both, the browser test (Playwright drives Debian's chromium; it downloads no browser)
        # and the API tests' HTTP client (Starlette's TestClient: httpx2 from Starlette 1.x on, which
        # calls httpx deprecated; httpx for older ones); pytest-xdist runs the suite on every core
        "test": ["pytest>=7", "pytest-xdist>=3", "starlette>=0.40", "uvicorn>=0.30", "python-multipart>=0.0.18",
                 "av>=12", "httpx>=0.27", "httpx2>=2.16", "playwright>=1.40"],
        # fercnn sweep: Ray Tune runs the trials (tested with Ray 2.60); tomllib is Python 3.11's
        "sweep": ["ray[tune]>=2.60,<2.61", "tomli>=1.1; python_version < '3.11'"],
    },
    entry_points={"console_scripts": ["fercnn = fercnn.cli:main"]},
)
