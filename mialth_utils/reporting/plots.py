"""Every figure of the kit by name (the figures themselves live in ``mialth_utils.figures``, one module
per experiment or claim, with the shared style in ``figures.style``). Notebooks, widgets and the
collector call ``plots.<figure>(table)``; each returns ``fig``; ``save_figure`` writes PNG and PDF."""

from __future__ import annotations

from ..figures.axes import (  # noqa: F401
    absent_note,
    aggregate,
    band,
    check_one_setting,
    clip_note,
    gap_limits,
    legend_outside,
    mean_interval,
    metric_axis,
    points_with_mean,
    seeds_text,
    sparsity_axis,
    tpr_floor,
    usable_rows,
)
from ..figures.classes import (  # noqa: F401
    attack_vs_classes,
)
from ..figures.compression import (  # noqa: F401
    SHADOW_ORDER,
    compression_panel,
)
from ..figures.data import (  # noqa: F401
    KEEP_COLOURS,
    example_images,
    keep_matrix,
)
from ..figures.frontier import (  # noqa: F401
    COMPRESSION_COLOUR,
    FRONTIER_KINDS,
    frontier_points,
    privacy_utility_frontier,
)
from ..figures.lth import (  # noqa: F401
    BRANCH_DODGE,
    accuracy_vs_sparsity,
    attack_vs_sparsity,
)
from ..figures.roc import (  # noqa: F401
    roc_loglog,
)
from ..figures.style import (  # noqa: F401
    ATTACK_LABELS,
    BRANCH_STYLE,
    CHANCE_STYLE,
    COMPRESSION_HEADLINE,
    FAMILY_MEMBERS,
    FAMILY_STYLE,
    FILLSTYLES,
    HEADLINE,
    LINESTYLES,
    METRIC_LABELS,
    RC,
    SPARSITY_CMAP,
    attack_family,
    attack_order,
    attack_style,
    chance_level,
    metric_fpr,
    metric_label,
    remaining_percent,
    save_figure,
    sparsity_colorbar,
    sparsity_mappable,
    styled,
)
from ..figures.trajectories import (  # noqa: F401
    churn_noise_floor,
    trajectory_panel,
)
from ..figures.transfer import (  # noqa: F401
    transfer_cost,
    transfer_cost_heatmap,
)
