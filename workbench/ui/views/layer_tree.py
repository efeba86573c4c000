"""The layer explorer's tree: the model's modules in the order they ran, the merges its forward made
between them (a residual ``⊕ add``, an inception ``⧉ cat``), auxiliary heads greyed, and runs of
repeated blocks collapsed under one row ("BasicBlock ×2") that opens on a click."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QHeaderView, QTreeWidget, QTreeWidgetItem

from workbench.core.inspect import LayerInfo, ModelSummary

from .text import tip

MERGE_SIGNS = {"add": "⊕", "cat": "⧉", "stack": "⧉", "mul": "⊗", "sum": "⊕", "mean": "⊕"}
MERGE_WORDS = {"add": "adds", "cat": "concatenates the channels of", "stack": "stacks, to average,",
               "mul": "multiplies", "sum": "sums", "mean": "averages"}


class LayerTree(QTreeWidget):
    """Every module of the model as a tree: name, type, output shape, parameters."""

    COLUMNS = ("Layer", "Type", "Output", "Params")
    GROUP_ROLE = Qt.ItemDataRole.UserRole + 1
    MERGE_ROLE = Qt.ItemDataRole.UserRole + 2

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("layerTree")
        self.setHeaderLabels(self.COLUMNS)
        self.setAlternatingRowColors(True)
        self.setUniformRowHeights(True)
        for column in range(len(self.COLUMNS)):  # a column follows its contents as branches open: no "c…"
            self.header().setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        self.header().setStretchLastSection(False)
        self.itemClicked.connect(self._toggle_group)

    def show_summary(self, summary: ModelSummary) -> None:
        """Modules in the order they ran, each container's children with the merges its forward made between
        them (a residual ``⊕ add``, an inception ``⧉ cat``): the tree follows the dataflow, not the code's
        order. Modules that did not run (auxiliary heads in evaluation) are greyed at the end."""
        self.clear()
        graph = summary.graph
        first: dict[str, int] = {}  # module path → the first node it (or one of its children) made
        merges = []
        for node in graph.nodes if graph is not None else []:
            if node.kind == "module":
                parts = node.module.split(".")
                for depth in range(1, len(parts) + 1):
                    first.setdefault(".".join(parts[:depth]), node.index)
            elif node.kind == "merge":
                merges.append(node)
        idle = set(graph.did_not_run) if graph is not None else set()
        never = len(graph.nodes) if graph is not None else 0
        rows = [(first.get(info.name, never), info.depth, i, info) for i, info in enumerate(summary.layers)]
        rows += [(node.index, node.module.count(".") + 2 if node.module else 1, 0, node) for node in merges]
        items: dict[str, QTreeWidgetItem] = {}
        grey = QColor("#888888")
        for _, _, _, row in sorted(rows, key=lambda r: r[:3]):
            if isinstance(row, LayerInfo):
                parent = items.get(row.name.rpartition(".")[0], self.invisibleRootItem())
                shape = "×".join(map(str, row.output_shape)) if row.output_shape else "–"
                item = QTreeWidgetItem(parent, [row.name.rpartition(".")[2], row.type, shape, f"{row.params:,}"])
                item.setData(0, Qt.ItemDataRole.UserRole, row.name)
                item.setTextAlignment(3, Qt.AlignmentFlag.AlignRight)
                items[row.name] = item
                if any(row.name == a or row.name.startswith(a + ".") for a in idle):
                    for column in range(4):
                        item.setForeground(column, grey)
                    item.setToolTip(0, "Not run in evaluation (an auxiliary head: it trains the early layers)")
            else:
                parent = items.get(row.module, self.invisibleRootItem())
                sources = ", ".join(graph.nodes[i].name for i in row.inputs)
                shape = "×".join(map(str, row.shape)) if row.shape else "–"
                item = QTreeWidgetItem(parent, [f"{MERGE_SIGNS.get(row.op, '∘')} {row.op}",
                                                f"{row.op} of {len(row.inputs)}", shape, ""])
                item.setData(0, self.MERGE_ROLE, row.name)  # "layer1.0:add": selectable, its maps on request
                item.setToolTip(0, tip(f"{MERGE_WORDS.get(row.op, row.op)}: {sources}. Select it to see what the "
                                       f"{row.op} gives"))
                for column in range(3):
                    item.setForeground(column, QColor("#1f5fa8"))
        self._collapse(self.invisibleRootItem())

    def _collapse(self, parent: QTreeWidgetItem) -> None:
        """Runs of two or more blocks of one class (ResNet's ``BasicBlock``s, DenseNet's dense layers) under
        one collapsed row, "BasicBlock ×2", with the merges between them; a click opens it."""
        children = [parent.child(i) for i in range(parent.childCount())]
        for child in children:
            self._collapse(child)
        runs, current = [], []
        for child in children:
            block = child.data(0, Qt.ItemDataRole.UserRole) is not None and child.childCount() > 0
            if not block:
                if current and child.data(0, Qt.ItemDataRole.UserRole) is None:  # a merge between blocks
                    current.append(child)
                    continue
                runs.append(current)
                current = []
            elif current and self._same_block(child, current[0]):
                current.append(child)
            else:
                runs.append(current)
                current = [child]
        runs.append(current)
        for run in runs:
            while run and run[-1].data(0, Qt.ItemDataRole.UserRole) is None:
                run.pop()
            blocks = [item for item in run if item.data(0, Qt.ItemDataRole.UserRole) is not None]
            if len(blocks) < 2:
                continue
            params = sum(int(item.text(3).replace(",", "") or 0) for item in blocks)
            group = QTreeWidgetItem([f"{blocks[0].text(1)} ×{len(blocks)}", "repeated", blocks[-1].text(2),
                                     f"{params:,}"])
            group.setData(0, self.GROUP_ROLE, len(blocks))
            group.setTextAlignment(3, Qt.AlignmentFlag.AlignRight)
            group.setFlags(Qt.ItemFlag.ItemIsEnabled)
            group.setToolTip(0, tip(f"{len(blocks)} {blocks[0].text(1)} blocks in a row "
                                    f"({blocks[0].text(0)}–{blocks[-1].text(0)}): click to open"))
            parent.insertChild(parent.indexOfChild(run[0]), group)
            for item in run:
                group.addChild(parent.takeChild(parent.indexOfChild(item)))

    GENERIC = ("Sequential", "ModuleList", "ModuleDict")

    @classmethod
    def _same_block(cls, a: QTreeWidgetItem, b: QTreeWidgetItem) -> bool:
        """Blocks of one class with one output shape (a ``BasicBlock`` with a shortcut is still one; ResNet's
        four stages are not); generic containers only when they hold the same layers (LeNet's C1 and S2 are
        both ``Sequential``, and not a repeat)."""
        if a.text(1) != b.text(1) or a.text(2) != b.text(2):  # one class, one output shape
            return False
        if a.text(1) not in cls.GENERIC:
            return True
        kinds = lambda item: [item.child(i).text(1) for i in range(item.childCount())]  # noqa: E731
        return kinds(a) == kinds(b)

    def groups(self) -> list[QTreeWidgetItem]:
        """The collapsed rows of repeated blocks."""
        return [it for it in self.findItems("*", Qt.MatchFlag.MatchWildcard | Qt.MatchFlag.MatchRecursive)
                if it.data(0, self.GROUP_ROLE)]

    def _toggle_group(self, item: QTreeWidgetItem) -> None:
        if item.data(0, self.GROUP_ROLE):
            item.setExpanded(not item.isExpanded())

    def reveal(self, layer: str) -> QTreeWidgetItem:
        """Select ``layer``, opening the rows above it."""
        item = self.item_for(layer)
        if item is None:
            raise KeyError(layer)
        parent = item.parent()
        while parent is not None:
            parent.setExpanded(True)
            parent = parent.parent()
        self.setCurrentItem(item)
        self.scrollToItem(item)
        return item

    def item_for(self, layer: str) -> QTreeWidgetItem | None:
        found = [it for it in self.findItems("*", Qt.MatchFlag.MatchWildcard | Qt.MatchFlag.MatchRecursive)
                 if layer in (it.data(0, Qt.ItemDataRole.UserRole), it.data(0, self.MERGE_ROLE))]
        return found[0] if found else None

    def selected_layer(self) -> str | None:
        """The selected module's dotted name, or a merge's node name ("layer1.0:add")."""
        items = self.selectedItems()
        if not items:
            return None
        return items[0].data(0, Qt.ItemDataRole.UserRole) or items[0].data(0, self.MERGE_ROLE)
