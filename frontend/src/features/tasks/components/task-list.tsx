import { useEffect, useState } from "react";
import { Link, useSearchParams } from "react-router";
import { EmptyState } from "@/components/empty-state";
import { Field, SelectField, TextField } from "@/components/form-field";
import { Spinner } from "@/components/spinner";
import { TagInput } from "@/components/tag-input";
import { useTasks } from "@/features/tasks/api/get-tasks";
import { TASK_PRIORITIES, TASK_STATUSES } from "@/features/tasks/api/task-types";
import {
  PAGE_SIZE,
  SORT_OPTIONS,
  filtersFromParams,
  filtersToParams,
  filtersToQuery,
  type TaskFilters,
} from "@/features/tasks/utils/task-filters";
import { TaskTable } from "@/features/tasks/components/task-table";
import { humanize } from "@/lib/format";

const SEARCH_DEBOUNCE_MS = 350;

function CheckboxGroup({
  legend,
  options,
  selected,
  onChange,
}: {
  legend: string;
  options: string[];
  selected: string[];
  onChange: (values: string[]) => void;
}) {
  return (
    <fieldset className="checkbox-group">
      <legend>{legend}</legend>
      {options.map((option) => (
        <label key={option} className="check">
          <input
            type="checkbox"
            checked={selected.includes(option)}
            onChange={(event) =>
              onChange(event.target.checked ? [...selected, option] : selected.filter((value) => value !== option))
            }
          />
          {humanize(option)}
        </label>
      ))}
    </fieldset>
  );
}

export function TaskList() {
  const [searchParams, setSearchParams] = useSearchParams();
  const filters = filtersFromParams(searchParams);
  const [searchDraft, setSearchDraft] = useState(filters.search);
  const tasks = useTasks(filtersToQuery(filters));

  function update(changes: Partial<TaskFilters>) {
    // Any filter change starts again from page 1; only the pager keeps its page.
    // Built from the latest URL, not this render's, so quick successive changes and the debounced search compose.
    setSearchParams((latest) => filtersToParams({ ...filtersFromParams(latest), page: 1, ...changes }));
  }

  useEffect(() => {
    if (searchDraft === filters.search) return;
    const timer = setTimeout(() => update({ search: searchDraft }), SEARCH_DEBOUNCE_MS);
    return () => clearTimeout(timer);
    // eslint-disable-next-line react-hooks/exhaustive-deps -- only a change of the typed text starts the timer
  }, [searchDraft]);

  // Back/forward changes the URL under us: the box follows it.
  const [seenSearch, setSeenSearch] = useState(filters.search);
  if (filters.search !== seenSearch) {
    setSeenSearch(filters.search);
    setSearchDraft(filters.search);
  }

  const total = tasks.data?.total ?? 0;
  const pageCount = Math.max(1, Math.ceil(total / PAGE_SIZE));
  const hasFilters = searchParams.toString() !== "" && searchParams.toString() !== `page=${filters.page}`;

  return (
    <div className="task-list">
      <div className="page-header">
        <h1>Tasks</h1>
        <Link to="/tasks/new" className="button primary">
          New task
        </Link>
      </div>
      <section className="card filters" aria-label="Filters">
        <div className="field-row">
          <TextField
            id="search"
            label="Search"
            grow
            type="search"
            placeholder="Title or description"
            value={searchDraft}
            onChange={(event) => setSearchDraft(event.target.value)}
          />
          <SelectField
            id="sort"
            label="Sort by"
            options={SORT_OPTIONS}
            value={filters.sort}
            onChange={(event) => update({ sort: event.target.value })}
          />
        </div>
        <div className="field-row">
          <CheckboxGroup legend="Status" options={TASK_STATUSES} selected={filters.status} onChange={(status) => update({ status })} />
          <CheckboxGroup
            legend="Priority"
            options={TASK_PRIORITIES}
            selected={filters.priority}
            onChange={(priority) => update({ priority })}
          />
        </div>
        <div className="field-row">
          <Field id="filter-tags" label="Tags" grow>
            {(control) => (
              <TagInput {...control} tags={filters.tags} onChange={(tags) => update({ tags })} placeholder="Any of these tags" />
            )}
          </Field>
          <TextField
            id="due-from"
            label="Due from"
            type="date"
            value={filters.dueFrom}
            onChange={(event) => update({ dueFrom: event.target.value })}
          />
          <TextField id="due-to" label="Due to" type="date" value={filters.dueTo} onChange={(event) => update({ dueTo: event.target.value })} />
          {hasFilters && (
            <button type="button" className="button link align-end" onClick={() => setSearchParams(new URLSearchParams())}>
              Clear filters
            </button>
          )}
        </div>
      </section>

      {tasks.isPending ? (
        <Spinner label="Loading tasks…" />
      ) : tasks.isError ? (
        <EmptyState title="The tasks could not be loaded.">
          <button type="button" className="button" onClick={() => tasks.refetch()}>
            Try again
          </button>
        </EmptyState>
      ) : tasks.data.items.length === 0 ? (
        <EmptyState title={hasFilters ? "No task matches these filters." : "No tasks yet."}>
          {!hasFilters && <Link to="/tasks/new">Create the first one</Link>}
        </EmptyState>
      ) : (
        <>
          <div className={`card table-card${tasks.isFetching ? " refreshing" : ""}`}>
            <TaskTable tasks={tasks.data.items} />
          </div>
          <nav className="pagination" aria-label="Pagination">
            <button
              type="button"
              className="button"
              disabled={filters.page <= 1}
              onClick={() => setSearchParams(filtersToParams({ ...filters, page: filters.page - 1 }))}
            >
              Previous
            </button>
            <span>
              Page {filters.page} of {pageCount} · {total} task{total === 1 ? "" : "s"}
            </span>
            <button
              type="button"
              className="button"
              disabled={filters.page >= pageCount}
              onClick={() => setSearchParams(filtersToParams({ ...filters, page: filters.page + 1 }))}
            >
              Next
            </button>
          </nav>
        </>
      )}
    </div>
  );
}
