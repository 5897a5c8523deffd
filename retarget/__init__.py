"""motionlib.retarget: human motion onto humanoid robots (robot descriptions, IK retargeting, robot clips).

Not built yet: the package exists so that the import namespace and the stage order
(motion -> sim -> policies -> tokenizer -> llm -> retarget) are fixed.
"""
