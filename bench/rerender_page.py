"""The baseline of bench/shop_taps.py: a Streamlit page that does nothing but re-render after a tap.

Whatever a tap costs on this page (websocket round trip, script start, React update) is Streamlit's floor;
the shop's actions are reported against it, measured in the same run on the same machine.
"""

import streamlit as st

st.session_state.setdefault("taps", 0)


def count_tap() -> None:
    st.session_state.taps += 1


st.button("Tap", key="tap", on_click=count_tap)
st.markdown(f'<div id="taps">{st.session_state.taps}</div>', unsafe_allow_html=True)
