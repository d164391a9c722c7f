"""``TransformDataset``: apply a function to each example when it is read."""

from ..dataset.dataset_mixin import DatasetMixin


class TransformDataset(DatasetMixin):
    """Example ``i`` is ``transform(dataset[i])``, computed on access (data augmentation).

    >>> doubled = TransformDataset([1, 2, 3], lambda x: 2 * x)
    >>> len(doubled), doubled[2], doubled[:2]
    (3, 6, [2, 4])
    """

    def __init__(self, dataset, transform):
        self._dataset = dataset
        self._transform = transform

    def __len__(self):
        return len(self._dataset)

    def get_example(self, i):
        return self._transform(self._dataset[i])
