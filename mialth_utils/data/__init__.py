"""Data: files on disk (``files``), data sets by name (``registry``), query views and augmentation
(``views``), and the membership game's splits (``membership``)."""
