"""New task: a wizard of five steps (tool, agents, settings, files, start) with a way back."""

from __future__ import annotations

import streamlit as st

from core.errors import DQError
from core.registry import TOOLS, ParamSpec
from ui.files_step import files_step
from ui.session import current_user, services
from ui.text import escape_markdown, human_bytes
from ui.wizard_state import STEPS, get_wizard, restart

user = current_user()
svc = services()
wizard = get_wizard()
g = wizard.generation

st.title("New task")


def step_indicator(current: int) -> None:
    cells = st.columns(len(STEPS))
    for index, (cell, name) in enumerate(zip(cells, STEPS, strict=True)):
        marker = "✓" if index < current else ("●" if index == current else "○")
        weight = "**" if index == current else ""
        cell.markdown(f"{marker} {weight}{index + 1}. {name}{weight}")
    st.progress((current + 1) / len(STEPS))


def back_button(to: int) -> None:
    if st.button("← Back", key=f"back_{g}_{wizard.step}"):
        wizard.step = to
        st.rerun()


CHOICE_NAMES = {
    "\t": "Tab",
    ",": "Comma (,)",
    ";": "Semicolon (;)",
    "|": "Pipe (|)",
    "auto": "Detect automatically",
}


def param_widget(spec: ParamSpec, value: object) -> object:
    key = f"param_{g}_{spec.name}"
    label = spec.name.replace("_", " ").capitalize()
    if spec.type == "int":
        return st.number_input(
            label,
            value=int(value),
            step=1,
            help=spec.help,
            key=key,
            min_value=None if spec.minimum is None else int(spec.minimum),
            max_value=None if spec.maximum is None else int(spec.maximum),
        )
    if spec.type == "float":
        return st.number_input(label, value=float(value), help=spec.help, key=key)
    if spec.type == "bool":
        return st.toggle(label, value=bool(value), help=spec.help, key=key)
    if spec.type == "choice":
        options = list(spec.choices)
        return st.selectbox(
            label,
            options,
            index=options.index(value) if value in options else 0,
            format_func=lambda v: CHOICE_NAMES.get(v, v),
            help=spec.help,
            key=key,
        )
    return st.text_input(label, value=str(value or ""), help=spec.help, key=key)


def nav_row() -> list:
    return st.columns([1, 1, 6])


step_indicator(wizard.step)

if wizard.step == 0:  # ---- 1. the tool ----------------------------------------------------
    st.subheader("What would you like to do?")
    cards = st.columns(len(TOOLS))
    for card, tool in zip(cards, TOOLS.values(), strict=True):
        with card.container(border=True):
            st.markdown(f"#### {tool.name}")
            st.write(tool.description)
            available = sum(a.available for a in tool.agents)
            st.caption(f"{available} of {len(tool.agents)} checks available")
            if tool.available:
                if st.button("Choose", key=f"tool_{g}_{tool.id}", type="primary"):
                    wizard.choose_tool(tool.id)
                    st.rerun()
            else:
                st.button("Not available yet", key=f"tool_{g}_{tool.id}", disabled=True)

elif wizard.step == 1 and wizard.tool:  # ---- 2. the agents ----------------------------------
    tool = wizard.tool
    st.subheader(f"{tool.name}: which checks should run?")
    chosen = []
    for agent in tool.agents:
        with st.container(border=True):
            left, right = st.columns([5, 1])
            ticked = left.checkbox(
                agent.name,
                value=agent.id in wizard.agents and agent.available,
                disabled=not agent.available,
                key=f"agent_{g}_{agent.id}",
            )
            left.caption(agent.description if agent.available else f"{agent.description} — not available yet")
            right.markdown(f"**{agent.credit_cost}** credit{'s' if agent.credit_cost != 1 else ''}")
            if ticked:
                chosen.append(agent.id)
    wizard.agents = chosen
    cost = wizard.cost()
    st.markdown(f"**Total: {cost} credits** · your balance: {user.credits:,} credits")
    problem = None
    if not chosen:
        problem = "Choose at least one check."
    elif cost > user.credits:
        problem = (
            f"Your balance is {cost - user.credits} credits short. Untick some checks or ask for credits."
        )
    if problem:
        st.warning(problem)
    nav = nav_row()
    with nav[0]:
        back_button(0)
    if nav[1].button("Next →", type="primary", disabled=problem is not None, key=f"next_agents_{g}"):
        wizard.step = 2
        st.rerun()

elif wizard.step == 2 and wizard.tool:  # ---- 3. the settings --------------------------------
    tool = wizard.tool
    st.subheader("Settings")
    st.caption("The defaults suit most files; change them only if you need to.")
    for spec in tool.parameters:
        wizard.parameters[spec.name] = param_widget(spec, wizard.parameters.get(spec.name, spec.default))
    nav = nav_row()
    with nav[0]:
        back_button(1)
    if nav[1].button("Next →", type="primary", key=f"next_settings_{g}"):
        wizard.step = 3
        st.rerun()

elif wizard.step == 3 and wizard.tool:  # ---- 4. the files -----------------------------------
    files_step(svc, user, wizard)
    nav = nav_row()
    with nav[0]:
        back_button(2)
    if nav[1].button("Next →", type="primary", disabled=not wizard.files_ready(), key=f"next_files_{g}"):
        wizard.step = 4
        st.rerun()
    if not wizard.files_ready():
        st.caption("Next becomes available once every required file has finished uploading.")

elif wizard.step == 4 and wizard.tool and wizard.task_id:  # ---- 5. start --------------------
    tool = wizard.tool
    st.subheader("Ready to start")
    defaults = {p.name: p.default for p in tool.parameters}
    with st.container(border=True):
        st.markdown(f"**Tool:** {tool.name}")
        st.markdown("**Checks:** " + ", ".join(tool.agent(a).name for a in wizard.agents))
        for slot, chosen_file in wizard.files.items():
            st.markdown(
                f"**{escape_markdown(tool.slot(slot).label)}:** {escape_markdown(chosen_file.name)} "
                f"({human_bytes(chosen_file.size)})"
            )
        changed = {k: v for k, v in wizard.parameters.items() if v != defaults.get(k)}
        if changed:
            listed = ", ".join(f"{k} = {v!r}" for k, v in changed.items())
            st.markdown("**Changed settings:** " + escape_markdown(listed))
        st.markdown(f"**Cost:** {wizard.cost()} credits (balance {user.credits:,})")
    short = wizard.cost() > user.credits
    if short:
        st.warning("Your balance is too low for these checks. Go back and untick some, or ask for credits.")
    nav = st.columns([1, 2, 5])
    with nav[0]:
        back_button(3)
    if nav[1].button("Start processing", type="primary", disabled=short, key=f"start_{g}"):
        try:
            svc.tasks.start_processing(user.id, wizard.task_id)
        except DQError as error:
            st.error(f"{error.message} ({error.code})")
        else:
            task_id = wizard.task_id
            restart()
            st.switch_page("pages/task.py", query_params={"id": task_id})

else:  # a state that no longer makes sense (e.g. the task vanished): start over
    restart()
    st.rerun()
