# results.sh — sourced by the bench scripts that print a table from result
# lines ("peer=NAME key=value ..."), collected in the file named by $results.

# The median of the numbers on stdin, one per line.
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
# Every value of field $2 in the result lines of peer $1.
field() { grep "peer=$1 " "$results" | tr ' ' '\n' | grep "^$2=" | cut -d= -f2; }
