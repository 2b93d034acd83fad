"""Every figure of the kit by name (the figures themselves live in ``mialth_utils.figures``, one module
per experiment or claim, with the shared style in ``figures.style``). Notebooks, widgets and the
collector call ``plots.<figure>(table)``; each returns ``fig``; ``save_figure`` writes PNG and PDF."""

from __future__ import annotations

from ..figures.style import (  # noqa: F401
    HEADLINE,
    COMPRESSION_HEADLINE,
    FAMILY_STYLE,
    FAMILY_MEMBERS,
    LINESTYLES,
    FILLSTYLES,
    ATTACK_LABELS,
    METRIC_LABELS,
    BRANCH_STYLE,
    SPARSITY_CMAP,
    CHANCE_STYLE,
    RC,
    styled,
    save_figure,
    attack_family,
    attack_order,
    attack_style,
    metric_label,
    metric_fpr,
    chance_level,
    remaining_percent,
    sparsity_mappable,
    sparsity_colorbar,
)
from ..figures.axes import (  # noqa: F401
    usable_rows,
    check_one_setting,
    mean_interval,
    aggregate,
    tpr_floor,
    metric_axis,
    sparsity_axis,
    clip_note,
    legend_outside,
    band,
    gap_limits,
    seeds_text,
    absent_note,
    points_with_mean,
)
from ..figures.roc import (  # noqa: F401
    roc_loglog,
)
from ..figures.lth import (  # noqa: F401
    attack_vs_sparsity,
    BRANCH_DODGE,
    accuracy_vs_sparsity,
)
from ..figures.classes import (  # noqa: F401
    attack_vs_classes,
)
from ..figures.transfer import (  # noqa: F401
    transfer_cost,
    transfer_cost_heatmap,
)
from ..figures.compression import (  # noqa: F401
    SHADOW_ORDER,
    compression_panel,
)
from ..figures.frontier import (  # noqa: F401
    FRONTIER_KINDS,
    COMPRESSION_COLOUR,
    frontier_points,
    privacy_utility_frontier,
)
from ..figures.data import (  # noqa: F401
    KEEP_COLOURS,
    keep_matrix,
    example_images,
)
from ..figures.trajectories import (  # noqa: F401
    churn_noise_floor,
    trajectory_panel,
)
