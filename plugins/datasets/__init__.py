"""Built-in datasets, all available offline. Loaders are named by import path,
so registering them imports neither torch nor scikit-learn."""

from zoo.registry import hookimpl
from zoo.registry.schemas import DatasetSpec


@hookimpl
def register_datasets(register):
    register(
        DatasetSpec(
            name="digits",
            loader="zoo.plugins.datasets.digits:load",
            description=(
                "scikit-learn's 1,797 handwritten digits (8x8, 10 classes) upsampled to "
                "image_size; ink is 1 on a 0 background; stratified 80/10/10 train/val/test"
            ),
        )
    )
    register(
        DatasetSpec(
            name="folder",
            loader="zoo.plugins.datasets.folder:load_folder",
            takes_path=True,
            description=(
                "your own images: --data folder:PATH reads a folder of images (recursively), "
                "with a same-name .txt file as each image's caption"
            ),
        )
    )
    register(
        DatasetSpec(
            name="scenes",
            loader="zoo.plugins.datasets.scenes:load",
            description=(
                "procedural RGB scenes (any size, 32 default) of 1-2 shapes with captions and "
                "attribute labels; train/val/test/heldout 20k/2k/2k/2k; colour-shape pairs "
                "red triangle, blue circle, green square never in train or val"
            ),
        )
    )
    register(
        DatasetSpec(
            name="scenes-edges",
            loader="zoo.plugins.datasets.conditions:load_edges",
            description="scenes paired with binary Sobel edge maps as 'condition' (N, 1, S, S)",
        )
    )
    register(
        DatasetSpec(
            name="scenes-segmentation",
            loader="zoo.plugins.datasets.conditions:load_segmentation",
            description=(
                "scenes paired with exact shape-class maps as 'condition' (N, 1, S, S), "
                "class / 4 with 0 background"
            ),
        )
    )
    register(
        DatasetSpec(
            name="scenes-day",
            loader="zoo.plugins.datasets.domains:load_day",
            description="CycleGAN domain A: the ordinary scenes, unpaired with scenes-night",
        )
    )
    register(
        DatasetSpec(
            name="scenes-night",
            loader="zoo.plugins.datasets.domains:load_night",
            description=(
                "CycleGAN domain B: scenes at night (dark sky, stars, dim glowing objects), "
                "drawn from other scene indices than scenes-day"
            ),
        )
    )
    register(
        DatasetSpec(
            name="scenes-daynight",
            loader="zoo.plugins.datasets.domains:load_daynight",
            description="unpaired day and night scenes as 'image_a' and 'image_b' for CycleGAN",
        )
    )
