"""The stacks and change sets of one region, and the exports between its stacks.

CloudFormation keeps stacks per account and region: a stack name is unique among the
region's live stacks, a deleted stack stays visible by its id (DescribeStacks,
ListStacks), and export names are unique in the region.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from sandbox.cloudformation.errors import ChangeSetNotFoundError, ValidationError
from sandbox.cloudformation.model import ChangeSet, Stack, StatusListener


@dataclass(frozen=True)
class Export:
    name: str
    value: str
    stack_id: str
    stack_name: str


@dataclass
class RegionStore:
    region: str
    stacks: dict[str, Stack] = field(default_factory=dict)
    change_sets: dict[str, ChangeSet] = field(default_factory=dict)
    lock: threading.RLock = field(default_factory=threading.RLock)
    #: told of every status change of the region's stacks (see `Stack.on_status`)
    on_status: StatusListener | None = None

    # ------------------------------------------------------------------ stacks
    def add(self, stack: Stack) -> None:
        with self.lock:
            stack.on_status = self.on_status
            self.stacks[stack.stack_id] = stack

    def live(self, name: str) -> Stack | None:
        """The stack of this name that is not deleted, if any."""
        with self.lock:
            for stack in self.stacks.values():
                if stack.name == name and not stack.deleted:
                    return stack
        return None

    def find(self, name_or_id: str) -> Stack:
        """By name (live stacks only) or by id (deleted ones too), as DescribeStacks finds."""
        with self.lock:
            stack = self.stacks.get(name_or_id) or self.live(name_or_id)
        if stack is None:
            raise ValidationError(f"Stack with id {name_or_id} does not exist")
        return stack

    def all(self) -> list[Stack]:
        with self.lock:
            return sorted(self.stacks.values(), key=lambda stack: stack.creation_time, reverse=True)

    # ------------------------------------------------------------------ change sets
    # AWS: an executed change set is found by its ARN only; by name, and in ListChangeSets,
    # a stack has only its change sets not yet executed.
    def change_set(self, name_or_id: str, stack_name: str | None) -> ChangeSet:
        with self.lock:
            found = self.change_sets.get(name_or_id)
            if found is None and stack_name:
                stack = self.live(stack_name) or self.stacks.get(stack_name)
                found = next(
                    (cs for cs in self.change_sets_of(stack.stack_id) if cs.name == name_or_id) if stack else iter(()),
                    None,
                )
        if found is None:
            raise ChangeSetNotFoundError(f"ChangeSet [{name_or_id}] does not exist")
        return found

    def change_sets_of(self, stack_id: str) -> list[ChangeSet]:
        """The stack's change sets not yet executed."""
        with self.lock:
            return [cs for cs in self.change_sets.values() if cs.stack_id == stack_id and not cs.executed]

    def drop_change_sets(self, stack_id: str, keep: str | None = None) -> None:
        """Forget the stack's change sets (executing one drops the others; a delete, all)."""
        with self.lock:
            for change_set_id in [
                cs.change_set_id
                for cs in self.change_sets.values()
                if cs.stack_id == stack_id and cs.change_set_id != keep
            ]:
                del self.change_sets[change_set_id]

    # ------------------------------------------------------------------ exports
    def exports(self) -> dict[str, Export]:
        with self.lock:
            live = [stack for stack in self.stacks.values() if not stack.deleted]
        return {
            name: Export(name, value, stack.stack_id, stack.name)
            for stack in live
            for name, value in stack.exports().items()
        }

    def importers(self, export_name: str) -> list[str]:
        """Names of the live stacks that import `export_name`."""
        with self.lock:
            return sorted(
                stack.name for stack in self.stacks.values() if not stack.deleted and export_name in stack.imports
            )
